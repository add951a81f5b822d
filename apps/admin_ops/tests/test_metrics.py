"""`GET /metrics` in one process: access rule, request series, query counts, operations gauges (SPEC §8.6).

The multi-process behaviour under gunicorn is tested in tests/test_metrics_gunicorn.py.
"""

import uuid

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from apps.admin_ops import metrics as metrics_module
from apps.admin_ops.metrics import GAUGES_UP, OPERATIONS_GAUGES
from apps.common.tests.test_errors import assert_envelope

METRICS = "/metrics"
OUTSIDER = "203.0.113.7"

pytestmark = pytest.mark.django_db


def _samples(response) -> dict[tuple[str, tuple], float]:
    """(sample name, sorted labels) -> value, parsed with prometheus-client's own parser."""
    assert response.status_code == 200, response.content
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _requests_total(route: str, method: str, status: str) -> float:
    labels = {"route": route, "method": method, "status": status}
    return REGISTRY.get_sample_value("guitaronline_http_requests_total", labels) or 0.0


def _db_queries_total(route: str, method: str) -> float:
    return REGISTRY.get_sample_value("guitaronline_db_queries_total", {"route": route, "method": method}) or 0.0


# --- who may scrape ----------------------------------------------------------------------------------


@pytest.mark.parametrize("remote_addr", ["127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_clients_may_scrape_by_default(client, remote_addr):
    response = client.get(METRICS, REMOTE_ADDR=remote_addr)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"# TYPE guitaronline_http_requests_total counter" in response.content


@pytest.mark.parametrize("remote_addr", [OUTSIDER, "10.1.2.3", "::2", "not-an-ip", ""])
def test_anyone_else_gets_the_404_envelope(client, remote_addr):
    response = client.get(METRICS, REMOTE_ADDR=remote_addr)

    assert_envelope(response, 404, "not_found")
    assert b"guitaronline" not in response.content


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(client, settings):
    settings.TRUSTED_PROXY_IPS = []

    response = client.get(METRICS, REMOTE_ADDR=OUTSIDER, HTTP_X_FORWARDED_FOR="127.0.0.1")

    assert_envelope(response, 404, "not_found")


def test_behind_a_trusted_proxy_the_forwarded_client_decides(client, settings):
    settings.TRUSTED_PROXY_IPS = ["10.0.0.0/8"]
    settings.METRICS_ALLOWED_IPS = ["192.0.2.0/24"]

    allowed = client.get(METRICS, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"{OUTSIDER}, 192.0.2.50")
    refused = client.get(METRICS, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="192.0.2.50, 198.51.100.1")

    assert allowed.status_code == 200
    assert_envelope(refused, 404, "not_found")
    # The proxy itself is not in the allowed range: its own address does not open the door.
    assert_envelope(client.get(METRICS, REMOTE_ADDR="10.0.0.2"), 404, "not_found")


def test_the_allowed_cidrs_come_from_settings(client, settings):
    settings.METRICS_ALLOWED_IPS = ["198.51.100.0/24", "2001:db8::/32"]

    assert client.get(METRICS, REMOTE_ADDR="198.51.100.200").status_code == 200
    assert client.get(METRICS, REMOTE_ADDR="2001:db8::5").status_code == 200
    assert_envelope(client.get(METRICS, REMOTE_ADDR="127.0.0.1"), 404, "not_found")


def test_the_metrics_token_opens_it_from_anywhere(client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"

    assert client.get(METRICS, REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION="Bearer s3cret-scrape-token").status_code == 200
    assert client.get(METRICS, REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION="bearer s3cret-scrape-token").status_code == 200
    for header in (
        "Bearer s3cret-scrape-toke",
        "Bearer s3cret-scrape-token2",
        "Basic s3cret-scrape-token",
        "",
        "Bearer",
    ):
        assert_envelope(client.get(METRICS, REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION=header), 404, "not_found")


def test_an_empty_token_turns_token_access_off(client, settings):
    settings.METRICS_TOKEN = ""

    for header in ("Bearer ", "Bearer", "Bearer  "):
        assert_envelope(client.get(METRICS, REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION=header), 404, "not_found")


def test_writes_are_405_for_allowed_clients_and_404_for_others(client):
    response = client.post(METRICS, REMOTE_ADDR="127.0.0.1")
    assert_envelope(response, 405, "method_not_allowed")
    assert response["Allow"] == "GET, HEAD"

    assert_envelope(client.post(METRICS, REMOTE_ADDR=OUTSIDER), 404, "not_found")


def test_an_api_bearer_jwt_is_not_a_metrics_token(client, admin_user):
    from conftest import bearer_for

    response = client.get(METRICS, REMOTE_ADDR=OUTSIDER, HTTP_AUTHORIZATION=bearer_for(admin_user))

    assert_envelope(response, 404, "not_found")


# --- request series ---------------------------------------------------------------------------------


def test_requests_are_counted_by_route_pattern_method_and_status(client, student_client):
    booking_id = uuid.uuid4()
    route = "/api/v1/booking/<uuid:booking_id>"
    before = (_requests_total(route, "GET", "404"), _requests_total("unmatched", "GET", "404"))

    for _ in range(3):
        assert student_client.get(f"/api/v1/booking/{uuid.uuid4()}").status_code == 404
    assert student_client.get(f"/api/v1/no-such/{booking_id}").status_code == 404

    assert _requests_total(route, "GET", "404") == before[0] + 3
    assert _requests_total("unmatched", "GET", "404") == before[1] + 1
    text = client.get(METRICS).content.decode()
    assert f'route="{route}"' in text
    assert str(booking_id) not in text  # never a raw path: cardinality stays bounded


def test_latency_is_a_histogram_by_route(client):
    client.get("/health")

    samples = _samples(client.get(METRICS))

    labels = {"method": "GET", "route": "/health", "status": "200"}
    count = samples[("guitaronline_http_request_duration_seconds_count", tuple(sorted(labels.items())))]
    every = samples[
        ("guitaronline_http_request_duration_seconds_bucket", tuple(sorted({**labels, "le": "+Inf"}.items())))
    ]
    assert count >= 1 and every == count


def test_a_request_refused_before_its_view_still_gets_its_route(api_client):
    route = "/api/v1/identity/auth/login"
    before = _requests_total(route, "POST", "400")

    api_client.generic("POST", "/api/v1/identity/auth/login", b"{", content_type="application/json")

    assert _requests_total(route, "POST", "400") == before + 1


def test_database_queries_are_counted_per_route(student_client, student):
    route = "/api/v1/booking/my"
    before = _db_queries_total(route, "GET")

    with CaptureQueriesContext(connection) as captured:
        assert student_client.get("/api/v1/booking/my").status_code == 200

    assert len(captured) > 0
    assert _db_queries_total(route, "GET") == before + len(captured)


def test_unknown_methods_share_one_label(api_client):
    before = _requests_total("/health", "other", "200")

    api_client.generic("BREW", "/health")  # /health is a plain view: it answers any method

    assert _requests_total("/health", "other", "200") == before + 1
    assert _requests_total("/health", "BREW", "200") == 0


# --- operations gauges -----------------------------------------------------------------------------------


def test_gauges_are_read_at_scrape_time_from_the_ops_overview(client, school):
    samples = _samples(client.get(METRICS))

    gauges = {name: samples[(name, ())] for name, _ in OPERATIONS_GAUGES.values()}
    assert gauges == {
        "guitaronline_outbox_pending": 2,
        "guitaronline_outbox_failed_retryable": 2,  # retries 1 and 4
        "guitaronline_outbox_dead_letter": 2,  # retries 5 and 7 (OUTBOX_WORKER_MAX_RETRIES = 5)
        "guitaronline_notifications_failed": 2,
        "guitaronline_stale_booking_holds": 1,
        "guitaronline_overdue_active_packages": 1,
    }
    assert samples[(GAUGES_UP, ())] == 1


def test_dead_letter_follows_outbox_worker_max_retries(client, school, settings):
    settings.OUTBOX_WORKER_MAX_RETRIES = 2

    samples = _samples(client.get(METRICS))

    assert samples[("guitaronline_outbox_dead_letter", ())] == 3  # retries 4, 5 and 7
    assert samples[("guitaronline_outbox_failed_retryable", ())] == 1


def test_a_stale_hold_appears_when_the_clock_passes_its_deadline(client, school, clock):
    assert _samples(client.get(METRICS))[("guitaronline_stale_booking_holds", ())] == 1
    clock.advance(minutes=11)
    assert _samples(client.get(METRICS))[("guitaronline_stale_booking_holds", ())] == 2


def test_a_scrape_costs_four_aggregate_queries_whatever_the_data(client, school, django_assert_max_num_queries):
    with django_assert_max_num_queries(4) as captured:
        assert client.get(METRICS).status_code == 200
    assert all("COUNT(" in query["sql"] for query in captured.captured_queries)


def test_when_the_database_fails_the_request_series_are_still_served(client, monkeypatch):
    def broken(**kwargs):
        raise OperationalError("the database went away")

    monkeypatch.setattr(metrics_module, "ops_overview", broken)

    samples = _samples(client.get(METRICS))

    assert samples[(GAUGES_UP, ())] == 0
    assert ("guitaronline_outbox_pending", ()) not in samples
    assert any(name == "guitaronline_http_requests_total" for name, _ in samples)
