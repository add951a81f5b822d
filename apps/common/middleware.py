"""Give non-DRF responses (Django 404s, crashes outside DRF) the SPEC envelope."""

import json

from django.http import HttpResponse

from apps.common.errors import error_body, error_response_for

_HTML_AREAS = ("/admin/", "/static/", "/docs")


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
