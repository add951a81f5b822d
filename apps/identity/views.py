"""Identity endpoints: thin, each parses input, calls one service, serializes the answer."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.identity import services
from apps.identity.ratelimits import enforce_auth_rate_limit
from apps.identity.serializers import (
    LoginSerializer,
    RefreshTokenSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
)


class _PublicAuthView(APIView):
    # No authentication: a stale Authorization header must not block login or refresh.
    authentication_classes: list = []
    permission_classes = [AllowAny]


def _token_pair_response(pair: services.TokenPair, *, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(TokenPairSerializer(pair).data, status=status_code)


class RegisterView(_PublicAuthView):
    @extend_schema(
        tags=["identity"],
        operation_id="identity_auth_register",
        request=RegisterSerializer,
        responses={201: UserSerializer},
        auth=[],
    )
    def post(self, request):
        enforce_auth_rate_limit(request, scope="register")
        serializer = RegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_register(**serializer.validated_data)
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginView(_PublicAuthView):
    @extend_schema(
        tags=["identity"],
        operation_id="identity_auth_login",
        request=LoginSerializer,
        responses={200: TokenPairSerializer},
        auth=[],
    )
    def post(self, request):
        enforce_auth_rate_limit(request, scope="login")
        serializer = LoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _token_pair_response(services.auth_login(**serializer.validated_data))


class RefreshView(_PublicAuthView):
    @extend_schema(
        tags=["identity"],
        operation_id="identity_auth_refresh",
        request=RefreshTokenSerializer,
        responses={200: TokenPairSerializer},
        auth=[],
    )
    def post(self, request):
        enforce_auth_rate_limit(request, scope="refresh")
        serializer = RefreshTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _token_pair_response(services.auth_refresh(refresh_token=serializer.validated_data["refresh_token"]))


class LogoutView(_PublicAuthView):
    """Revokes the given refresh token; holding the token is the proof, no access token needed."""

    @extend_schema(
        tags=["identity"],
        operation_id="identity_auth_logout",
        request=RefreshTokenSerializer,
        responses={204: OpenApiResponse(description="The refresh token is revoked.")},
        auth=[],
    )
    def post(self, request):
        serializer = RefreshTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.auth_logout(refresh_token=serializer.validated_data["refresh_token"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(tags=["identity"], operation_id="identity_users_me", responses={200: UserSerializer})
    def get(self, request):
        return Response(UserSerializer(request.user).data)
