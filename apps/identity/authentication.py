"""Bearer JWT authentication (simplejwt), with deactivated users refused."""

from django.utils.translation import gettext_lazy as _
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken
from rest_framework_simplejwt.settings import api_settings

from apps.identity.selectors import user_for_request


class BearerJWTAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access_token>`.

    simplejwt already rejects refresh tokens used as access tokens, expired or
    badly signed tokens; `get_user` refuses users who were deactivated or
    deleted after the token was issued. Every such refusal becomes 401
    `invalid_token` in the error handler.
    """

    www_authenticate_realm = "api"

    def get_user(self, validated_token):
        """simplejwt's checks, with the user loaded once by `user_for_request` (no ORM query building)."""
        if api_settings.CHECK_REVOKE_TOKEN:  # not used here; simplejwt's own path knows how
            return super().get_user(validated_token)
        try:
            user_id = validated_token[api_settings.USER_ID_CLAIM]
        except KeyError as exc:
            raise InvalidToken(_("Token contained no recognizable user identification")) from exc
        user = user_for_request(user_id=user_id)
        if user is None:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not user.is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        return user
