"""Identity endpoints (SPEC §3 Identity): register, tokens, and the caller's own user."""

from rest_framework.permissions import AllowAny

from apps.common.viewsets import ApiViewSet, endpoint
from apps.identity import services
from apps.identity.ratelimits import enforce_auth_rate_limit
from apps.identity.serializers import (
    LoginSerializer,
    RefreshTokenSerializer,
    RegisterSerializer,
    TokenPairSerializer,
    UserSerializer,
    UserUpdateSerializer,
)


class AuthViewSet(ApiViewSet):
    # No authentication: a stale Authorization header must not block login or refresh.
    authentication_classes: list = []
    permission_classes = [AllowAny]
    serializer_class = TokenPairSerializer
    # Per-IP budgets, named as the actions (logout is not limited: the SPEC names these three).
    rate_limited_actions = frozenset({"register", "login", "refresh"})

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Every attempt counts, refused ones included: the limit runs before the body is parsed.
        if self.action in self.rate_limited_actions:
            enforce_auth_rate_limit(request, scope=self.action)

    @endpoint("post", body=RegisterSerializer, returns=UserSerializer, status=201, auth=[])
    def register(self, request, body):
        """Create a student or teacher account."""
        return services.user_register(**body)

    @endpoint("post", body=LoginSerializer, auth=[])
    def login(self, request, body):
        """Exchange email and password for an access and a refresh token."""
        return services.auth_login(**body)

    @endpoint("post", body=RefreshTokenSerializer, auth=[])
    def refresh(self, request, body):
        """Exchange a refresh token for a new pair; the used one is revoked."""
        return services.auth_refresh(**body)

    @endpoint("post", body=RefreshTokenSerializer, status=204, auth=[], response_description="The token is revoked.")
    def logout(self, request, body):
        """Revoke the given refresh token; holding the token is the proof, no access token needed."""
        services.auth_logout(**body)


class UserViewSet(ApiViewSet):
    serializer_class = UserSerializer

    @endpoint()
    def me(self, request):
        """The caller's own user."""
        return request.user

    @endpoint("patch", "me", body=UserUpdateSerializer)
    def update_me(self, request, body):
        """Change your own full name and time zone; nothing else about you."""
        return services.user_update(user=request.user, **body)
