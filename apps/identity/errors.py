"""Identity's domain errors, in the words the API uses (SPEC §3, Identity)."""

from rest_framework import status

from apps.common.errors import BusinessRuleViolation, Conflict, DomainError, InvalidInput, NotFound

INVALID_CREDENTIALS_MESSAGE = "Invalid email or password."
INVALID_TOKEN_MESSAGE = "Token is invalid, expired or revoked."


class EmailAlreadyRegistered(Conflict):
    default_message = "A user with this email already exists."


class PasswordRejected(InvalidInput):
    """Django's password validators said no; details carry their messages under `password`."""

    default_message = "Invalid input."


class InvalidCredentials(DomainError):
    """Wrong email, wrong password or inactive user: one answer for all three (no enumeration)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    code = "invalid_credentials"
    default_message = INVALID_CREDENTIALS_MESSAGE


class InvalidRefreshToken(DomainError):
    """A refresh token that is malformed, expired, revoked, an access token, or whose user is gone."""

    status_code = status.HTTP_401_UNAUTHORIZED
    code = "invalid_token"
    default_message = INVALID_TOKEN_MESSAGE


class UserNotFound(NotFound):
    default_message = "User not found."


class SelfAdministrationRefused(BusinessRuleViolation):
    """Staff change other people's accounts; their own role and active flag are not theirs to change (422)."""

    default_message = "You cannot do this to your own account."
