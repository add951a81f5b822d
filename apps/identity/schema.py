"""drf-spectacular: document our bearer JWT authentication as the `jwtAuth` security scheme.

drf-spectacular's simplejwt extension targets JWTAuthentication itself, not
subclasses, so ours is registered here (imported from IdentityConfig.ready).
"""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme


class BearerJWTScheme(SimpleJWTScheme):
    target_class = "apps.identity.authentication.BearerJWTAuthentication"
    name = "jwtAuth"
