"""X-Request-ID in and out, on every log line of the request (SPEC §8.6)."""

import logging
import re

import pytest
from rest_framework.test import APIClient

from apps.common.request_ids import NO_REQUEST, current_request_id, request_id_from

TEST_URLS = "apps.common.tests.urls_for_tests"
GENERATED = re.compile(r"[0-9a-f]{32}")

pytestmark = pytest.mark.django_db


def _records_of(caplog, request_id: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if getattr(record, "request_id", None) == request_id]


def _access_line(caplog) -> logging.LogRecord:
    lines = [record for record in caplog.records if record.name == "guitaronline.access"]
    assert len(lines) == 1, [record.getMessage() for record in caplog.records]
    return lines[0]


@pytest.mark.parametrize("given", ["abc-123.x_Y", "a", "A" * 128, "0f8fad5b-d9cb-469f-a165-70867728950e"])
def test_a_sane_caller_id_comes_back_and_is_on_the_access_line(api_client, caplog, given):
    caplog.set_level(logging.INFO)

    response = api_client.get("/health", HTTP_X_REQUEST_ID=given)

    assert response.status_code == 200
    assert response["X-Request-ID"] == given
    line = _access_line(caplog)
    assert line.request_id == given
    assert (line.method, line.path, line.status) == ("GET", "/health", 200)
    assert isinstance(line.duration_ms, float) and line.duration_ms >= 0
    assert line.getMessage().startswith("GET /health 200 ")


@pytest.mark.parametrize(
    "given",
    ["A" * 129, "has space", "new\nline", "semi;colon", "<script>", "tab\tid", "ünï", "a/b", ""],
    ids=["too_long", "space", "newline", "semicolon", "markup", "tab", "non_ascii", "slash", "empty"],
)
def test_an_insane_caller_id_is_replaced(api_client, caplog, given):
    caplog.set_level(logging.INFO)

    response = api_client.get("/health", HTTP_X_REQUEST_ID=given)

    assert response["X-Request-ID"] != given
    assert GENERATED.fullmatch(response["X-Request-ID"])
    assert _access_line(caplog).request_id == response["X-Request-ID"]


def test_without_a_caller_id_each_request_gets_its_own(api_client):
    ids = {api_client.get("/health")["X-Request-ID"] for _ in range(5)}

    assert len(ids) == 5 and all(GENERATED.fullmatch(value) for value in ids)


@pytest.mark.urls(TEST_URLS)
def test_an_unhandled_error_logs_its_traceback_with_the_request_id(caplog):
    caplog.set_level(logging.INFO)
    client = APIClient()
    client.raise_request_exception = False

    response = client.get("/test-only/raise/runtime", HTTP_X_REQUEST_ID="crash-42")

    assert response.status_code == 500
    assert response["X-Request-ID"] == "crash-42"
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors and all(record.request_id == "crash-42" for record in errors)
    assert any(record.exc_info for record in errors)
    assert _access_line(caplog).status == 500
    # Nothing of this request was logged without its id.
    assert {record.request_id for record in caplog.records} == {"crash-42"}


def test_refusals_before_any_view_carry_the_id_too(api_client, caplog):
    caplog.set_level(logging.INFO)

    response = api_client.generic(
        "POST", "/api/v1/identity/auth/login", b"{", content_type="application/json", HTTP_X_REQUEST_ID="bad-body"
    )

    assert response.status_code == 400
    assert response["X-Request-ID"] == "bad-body"
    assert _access_line(caplog).request_id == "bad-body"


def test_error_envelopes_of_unknown_urls_carry_the_id(api_client):
    response = api_client.get("/api/v1/nowhere", HTTP_X_REQUEST_ID="lost-1")

    assert response.status_code == 404 and response["X-Request-ID"] == "lost-1"


def test_a_path_with_control_characters_stays_one_log_line(api_client, caplog):
    caplog.set_level(logging.INFO)

    api_client.get("/api/v1/x%0Afake%20line")

    message = _access_line(caplog).getMessage()
    assert "\n" not in message and "\\n" in message


def test_outside_a_request_the_id_is_a_dash(caplog):
    caplog.set_level(logging.INFO)

    logging.getLogger("apps.test").info("not in a request")

    assert current_request_id() == NO_REQUEST
    assert caplog.records[-1].request_id == NO_REQUEST


def test_request_id_from_keeps_sane_tokens_only():
    assert request_id_from("ok_1.2-3") == "ok_1.2-3"
    assert GENERATED.fullmatch(request_id_from(None))
    assert GENERATED.fullmatch(request_id_from("x" * 129))


@pytest.mark.django_db
def test_the_calendar_feed_token_never_reaches_the_access_log(client_for, student, caplog):
    url = client_for(student).get("/api/v1/calendar/feed").json()["url"]
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    with caplog.at_level(logging.INFO, logger="guitaronline.access"):
        assert APIClient().get(f"/api/v1/calendar/{token}.ics").status_code == 200
    feed_line = [r for r in caplog.records if r.name == "guitaronline.access"][-1]
    assert feed_line.getMessage().startswith("GET /api/v1/calendar/<token>.ics 200 ")
    assert feed_line.path == "/api/v1/calendar/<token>.ics"
    assert token not in caplog.text
