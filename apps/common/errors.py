"""Domain errors and the single place that turns any error into the SPEC envelope.

Services raise the domain errors below (or subclasses named in the school's
language, e.g. `SlotNotAvailable(BusinessRuleViolation)`); views never build
error responses by hand.
"""

import logging
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.http import Http404
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import set_rollback
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "validation_error"
    default_message = "Invalid request."

    def __init__(self, message: str | None = None, *, details: dict | None = None):
        self.message = message or self.default_message
        self.details = details or {}
        super().__init__(self.message)


class InvalidInput(DomainError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "validation_error"
    default_message = "Invalid input."


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    default_message = "Not found."


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "forbidden"
    default_message = "You are not allowed to do this."


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    default_message = "The request conflicts with the current state."


class BusinessRuleViolation(DomainError):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "business_rule_violation"
    default_message = "A business rule does not allow this."


class RateLimited(DomainError):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    code = "rate_limited"
    default_message = "Too many requests; try again later."

    def __init__(self, message: str | None = None, *, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = max(int(retry_after), 1)


class PayloadTooLarge(DomainError):
    """A request body over DATA_UPLOAD_MAX_MEMORY_SIZE: refused before it is parsed."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"
    default_message = "The request body is too large."

    def __init__(self, message: str | None = None, *, limit: int | None = None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE if limit is None else limit
        super().__init__(message or f"The request body is larger than {limit} bytes.", details={"max_bytes": limit})


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _validation_details(detail) -> dict:
    """Flatten DRF's nested ErrorDetail structures into field -> [messages]."""
    if isinstance(detail, dict):
        return {str(k): _messages(v) for k, v in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": _messages(detail)}
    return {"non_field_errors": [str(detail)]}


def _messages(value):
    if isinstance(value, dict):
        return {str(k): _messages(v) for k, v in value.items()}
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return [_messages(v) for v in value]
        out = []
        for v in value:
            out.extend(_messages(v) if isinstance(v, list) else [str(v)])
        return out
    return [str(value)]


def _auth_failed_code(exc) -> str:
    codes = exc.get_codes() if hasattr(exc, "get_codes") else None
    if codes == "invalid_credentials":
        return "invalid_credentials"
    return "invalid_token"


def error_response_for(exc: Exception) -> tuple[int, dict, dict]:
    """Map any exception to (status, body, headers). Unknown exceptions are 500."""
    headers: dict = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
        return exc.status_code, error_body(exc.code, exc.message, exc.details), headers
    if isinstance(exc, DomainError):
        return exc.status_code, error_body(exc.code, exc.message, exc.details), headers
    if isinstance(exc, RequestDataTooBig):
        return error_response_for(PayloadTooLarge())
    if isinstance(exc, Ratelimited):
        headers["Retry-After"] = "1"
        return 429, error_body("rate_limited", RateLimited.default_message), headers
    if isinstance(exc, (InvalidToken, TokenError)):
        return 401, error_body("invalid_token", "Token is invalid, expired or revoked."), headers
    if isinstance(exc, drf_exceptions.NotAuthenticated):
        return 401, error_body("not_authenticated", "Authentication credentials were not provided."), headers
    if isinstance(exc, drf_exceptions.AuthenticationFailed):
        code = _auth_failed_code(exc)
        message = (
            "Invalid email or password." if code == "invalid_credentials" else "Token is invalid, expired or revoked."
        )
        return 401, error_body(code, message), headers
    if isinstance(exc, (drf_exceptions.PermissionDenied, DjangoPermissionDenied)):
        return 403, error_body("forbidden", "You are not allowed to do this."), headers
    if isinstance(exc, (drf_exceptions.NotFound, Http404)):
        return 404, error_body("not_found", "Not found."), headers
    if isinstance(exc, drf_exceptions.ValidationError):
        return 400, error_body("validation_error", "Invalid input.", _validation_details(exc.detail)), headers
    if isinstance(exc, drf_exceptions.ParseError):
        return 400, error_body("validation_error", "Malformed request body.", {"body": [str(exc.detail)]}), headers
    if isinstance(exc, DjangoValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return 400, error_body("validation_error", "Invalid input.", details), headers
    if isinstance(exc, drf_exceptions.Throttled):
        headers["Retry-After"] = str(max(1, math.ceil(exc.wait or 1)))
        return 429, error_body("rate_limited", RateLimited.default_message), headers
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return 405, error_body("method_not_allowed", str(exc.detail)), headers
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return 415, error_body("unsupported_media_type", str(exc.detail)), headers
    if isinstance(exc, drf_exceptions.NotAcceptable):
        return 406, error_body("not_acceptable", str(exc.detail)), headers
    if isinstance(exc, drf_exceptions.APIException):
        return exc.status_code, error_body("error", str(exc.detail)), headers
    if isinstance(exc, IntegrityError):
        # A constraint caught a race the service could not see coming.
        logger.warning("integrity error mapped to 409: %s", exc)
        return 409, error_body("conflict", Conflict.default_message), headers
    if isinstance(exc, OperationalError) and "lock timeout" in str(exc).lower():
        headers["Retry-After"] = "1"
        return 409, error_body("conflict", "The resource is busy; retry shortly."), headers
    logger.exception("unhandled error", exc_info=exc)
    return 500, error_body("internal_error", "Internal server error."), headers


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every error leaves in the SPEC envelope."""
    status_code, body, headers = error_response_for(exc)
    set_rollback()
    response = Response(body, status=status_code, headers=headers)
    if status_code == 401:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response
