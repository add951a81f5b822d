"""Request ids (SPEC §8.6): `X-Request-ID` in and out, and on every log line of the request.

The id is the caller's when it is a sane token (<= 128 characters of
`[A-Za-z0-9._-]`, so it cannot forge log lines or headers), else a new one.
It lives in a context variable from the first middleware until the response
is closed (`request_finished`: Django logs its 4xx/5xx lines after the
middleware chain has returned); a log record factory stamps it on every record
created meanwhile (`record.request_id`, "-" outside a request), whichever
logger or handler the record goes through: Django's own error lines, ours,
and pytest's `caplog` alike.

The same middleware writes one access line per request (method, path, status,
duration) on the `guitaronline.access` logger; gunicorn's own access log is
off (gunicorn.conf.py), since it cannot carry the id.
"""

import contextvars
import logging
import re
import time
import uuid

from django.core.signals import request_finished

HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"
NO_REQUEST = "-"
_SANE_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

_current = contextvars.ContextVar("request_id", default=NO_REQUEST)

access_logger = logging.getLogger("guitaronline.access")


def current_request_id() -> str:
    """The id of the request being served in this context, or "-"."""
    return _current.get()


def request_id_from(value: str | None) -> str:
    """The caller's id when it is a sane token, else a fresh one (32 hex characters)."""
    if value and _SANE_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def _forget_request_id(**kwargs) -> None:
    _current.set(NO_REQUEST)


_installed = False


def install_log_record_factory() -> None:
    """Stamp `request_id` on every log record from now on (idempotent; called from CommonConfig.ready)."""
    global _installed
    if _installed:
        return
    request_finished.connect(_forget_request_id, dispatch_uid="apps.common.request_ids.forget")
    previous = logging.getLogRecordFactory()

    def record_with_request_id(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = _current.get()
        return record

    logging.setLogRecordFactory(record_with_request_id)
    _installed = True


def _printable(text: str) -> str:
    """A decoded path may hold line breaks or control characters: escape them so one request is one line."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


# URL parameters that are credentials (the calendar feed's secret token): never written to a log.
SECRET_URL_KWARGS = frozenset({"token"})


def _without_secrets(request) -> str:
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name, value in match.kwargs.items() if match else ():
        if name in SECRET_URL_KWARGS and value:
            path = path.replace(str(value), f"<{name}>")
    return path


class RequestIdMiddleware:
    """Outermost middleware: picks the id, answers with it, and logs the access line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_from(request.META.get(_META_KEY))
        request.request_id = request_id
        _current.set(request_id)  # until request_finished
        started = time.perf_counter()
        response = self.get_response(request)
        response[HEADER] = request_id
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        path = _printable(_without_secrets(request))
        access_logger.info(
            "%s %s %s %.1fms",
            request.method,
            path,
            response.status_code,
            duration_ms,
            extra={"method": request.method, "path": path, "status": response.status_code, "duration_ms": duration_ms},
        )
        return response
