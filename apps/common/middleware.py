"""Give non-DRF responses (Django 404s, crashes outside DRF) the SPEC envelope; refuse bad API bodies early;
write the Content-Security-Policy header."""

import json

from csp.constants import HEADER as CSP_HEADER
from csp.constants import NONCE
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from rest_framework.exceptions import APIException, UnsupportedMediaType

from apps.common.errors import error_body, error_response_for
from apps.common.parsers import JSON_MEDIA_TYPE, PARSED_BODY_ATTRIBUTE, parse_json_body

_HTML_AREAS = ("/admin/", "/static/", "/docs")
_API_AREA = "/api/"
# Methods whose body Django and DRF never read.
_BODYLESS_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


def json_error(status_code: int, body: dict, headers: dict | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status_code, content_type="application/json")
    for key, value in (headers or {}).items():
        response[key] = value
    return response


class JsonErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and not request.path.startswith(_HTML_AREAS)
            and "application/json" not in response.get("Content-Type", "")
        ):
            return json_error(404, error_body("not_found", "Not found."))
        return response

    def process_exception(self, request, exception):
        if request.path.startswith(("/admin/",)):
            return None
        status_code, body, headers = error_response_for(exception)
        return json_error(status_code, body, headers)


def _content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class JsonBodyMiddleware:
    """Every API request that carries a body gets it checked here, before any view runs.

    An action that never reads its body (confirm, the expiry sweeps) would
    otherwise act on garbage; and DRF reads its stream without Django's size
    limit. So: larger than DATA_UPLOAD_MAX_MEMORY_SIZE -> 413, not JSON -> 415,
    malformed (see `apps.common.parsers`) -> 400, all in the envelope. A good
    body is kept on the request for `StrictJSONParser`, so it is parsed once.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            request.path.startswith(_API_AREA)
            and request.method not in _BODYLESS_METHODS
            and _content_length(request) > 0
        ):
            try:
                if request.content_type != JSON_MEDIA_TYPE:
                    raise UnsupportedMediaType(request.content_type or "")
                setattr(request, PARSED_BODY_ATTRIBUTE, parse_json_body(request.body))
            except (RequestDataTooBig, APIException) as exc:  # ParseError, ValidationError, UnsupportedMediaType
                status_code, body, headers = error_response_for(exc)
                return json_error(status_code, body, headers)
        return self.get_response(request)


class StaticPolicyCSPMiddleware(CSPMiddleware):
    """django-csp's middleware, with our policy string built once instead of on every response.

    django-csp rebuilds the header from settings for each response (about a
    tenth of a small request's CPU). Our policy has no nonces and no per-view
    overrides, so a response that uses neither gets the string built at start;
    anything else (a view's @csp_update/@csp_exempt, a nonce, a report-only
    policy, DEBUG error pages) goes through django-csp unchanged.
    """

    _OVERRIDES = (
        "_csp_config",
        "_csp_update",
        "_csp_replace",
        "_csp_exempt",
        "_csp_config_ro",
        "_csp_update_ro",
        "_csp_replace_ro",
        "_csp_exempt_ro",
    )

    def __init__(self, get_response):
        super().__init__(get_response)
        policy = getattr(settings, "CONTENT_SECURITY_POLICY", None) or {}
        directives = policy.get("DIRECTIVES", {})
        uses_nonce = any(NONCE in values for values in directives.values() if isinstance(values, list | tuple | set))
        static = not (
            uses_nonce
            or policy.get("EXCLUDE_URL_PREFIXES")
            or getattr(settings, "CONTENT_SECURITY_POLICY_REPORT_ONLY", None)
        )
        self._static_header = build_policy() if static else None

    def process_response(self, request, response):
        if (
            self._static_header is None
            or (settings.DEBUG and response.status_code in (404, 500))  # django-csp leaves debug pages alone
            or getattr(request, "_csp_nonce", None) is not None
            or CSP_HEADER in response
            or any(hasattr(response, name) for name in self._OVERRIDES)
        ):
            return super().process_response(request, response)
        response[CSP_HEADER] = self._static_header
        # As django-csp does: a nonce asked for after the header is written is an error, not a silent gap.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)
        return response
