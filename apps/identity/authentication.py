"""Bearer JWT authentication (simplejwt), with deactivated users refused."""

from rest_framework_simplejwt.authentication import JWTAuthentication


class BearerJWTAuthentication(JWTAuthentication):
    """`Authorization: Bearer <access_token>`.

    simplejwt already rejects refresh tokens used as access tokens, expired or
    badly signed tokens, and users who were deactivated or deleted after the
    token was issued; every such refusal becomes 401 `invalid_token` in the
    error handler.
    """

    www_authenticate_realm = "api"
