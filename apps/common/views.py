"""Service endpoints: liveness, readiness, and Django-level error handlers."""

import logging
import uuid

from django.core.cache import cache
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import JsonResponse

from apps.common.errors import error_body, error_response_for

logger = logging.getLogger(__name__)


def health(request):
    """Liveness: the process answers. Touches nothing."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache() -> None:
    key = f"ready-probe:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache read-back failed")
    cache.delete(key)


def ready(request):
    """Readiness: database and cache both answer; 503 names the failing check."""
    checks = {}
    for name, probe in (("database", _check_database), ("cache", _check_cache)):
        try:
            probe()
            checks[name] = "ok"
        except Exception as exc:  # any failure of a dependency means not ready
            logger.warning("readiness check %s failed: %s", name, exc)
            checks[name] = "error"
    if all(value == "ok" for value in checks.values()):
        return JsonResponse({"status": "ready", "checks": checks})
    failed = [name for name, value in checks.items() if value != "ok"]
    return JsonResponse({"status": "not_ready", "checks": checks, "failed": failed}, status=503)


def not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def server_error(request):
    return JsonResponse(error_body("internal_error", "Internal server error."), status=500)


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):  # a form body (the admin site) over the size limit
        status_code, body, _ = error_response_for(exception)
        return JsonResponse(body, status=status_code)
    return JsonResponse(error_body("validation_error", "Bad request."), status=400)


def permission_denied(request, exception=None):
    return JsonResponse(error_body("forbidden", "You are not allowed to do this."), status=403)
