"""Give non-DRF responses (Django 404s, crashes outside DRF) the SPEC envelope; refuse bad API bodies early."""

import json

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
