import uuid
from datetime import datetime, timedelta, timezone

import pytest

from apps.admin_ops import selectors
from apps.admin_ops import services as admin_ops_services
from apps.admin_ops.models import AdminAction
from apps.admin_ops.tests.factories import AdminActionFactory
from apps.audit.models import AuditLog
from apps.common import clock as clock_module

pytestmark = pytest.mark.django_db

ACTIONS_URL = "/api/v1/admin/actions"
KPI_URL = "/api/v1/admin/kpi/overview"
OPS_URL = "/api/v1/admin/ops/overview"

ACTION_FIELDS = {"id", "admin_id", "action", "target_type", "target_id", "payload", "created_at", "updated_at"}

KPI_EMPTY_SCHOOL = {
    # only the calling admin exists
    "users_total": 1,
    "users_students": 0,
    "users_teachers": 0,
    "users_admins": 1,
    "bookings_total": 0,
    "bookings_hold": 0,
    "bookings_confirmed": 0,
    "bookings_canceled": 0,
    "bookings_expired": 0,
    "lessons_total": 0,
    "lessons_scheduled": 0,
    "lessons_completed": 0,
    "lessons_canceled": 0,
    "lessons_no_show": 0,
    "payments_total": 0,
    "payments_pending": 0,
    "payments_succeeded": 0,
    "payments_failed": 0,
    "payments_refunded": 0,
    "payments_succeeded_amount": "0.00",
    "payments_refunded_amount": "0.00",
    "payments_net_amount": "0.00",
    "packages_total": 0,
    "packages_active": 0,
    "packages_expired": 0,
    "packages_canceled": 0,
}

KPI_SCHOOL = {
    "users_total": 7,
    "users_students": 3,
    "users_teachers": 2,
    "users_admins": 2,
    "bookings_total": 8,
    "bookings_hold": 2,
    "bookings_confirmed": 4,
    "bookings_canceled": 1,
    "bookings_expired": 1,
    "lessons_total": 5,
    "lessons_scheduled": 1,
    "lessons_completed": 2,
    "lessons_canceled": 1,
    "lessons_no_show": 1,
    "payments_total": 5,
    "payments_pending": 1,
    "payments_succeeded": 2,
    "payments_failed": 1,
    "payments_refunded": 1,
    # received: succeeded 49.90 + 10.05 plus the refunded 20.10; net = received - refunded
    "payments_succeeded_amount": "80.05",
    "payments_refunded_amount": "20.10",
    "payments_net_amount": "59.95",
    "packages_total": 5,
    "packages_active": 3,
    "packages_expired": 1,
    "packages_canceled": 1,
}


def _without_stamp(body: dict) -> dict:
    assert body.pop("generated_at").endswith("Z")
    return body


def _stamp(row, created_at):
    type(row).objects.filter(pk=row.pk).update(created_at=created_at)


# --- access ---------------------------------------------------------------------------------

ENDPOINTS = [("get", ACTIONS_URL), ("post", ACTIONS_URL), ("get", KPI_URL), ("get", OPS_URL)]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_anonymous_gets_401(api_client, method, url):
    response = getattr(api_client, method)(url, {"action": "a", "target_type": "t"} if method == "post" else None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert AdminAction.objects.count() == 0


@pytest.mark.parametrize("role_client", ["student_client", "teacher_client"])
@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
def test_non_admin_gets_403(request, role_client, method, url):
    client = request.getfixturevalue(role_client)
    response = getattr(client, method)(url, {"action": "a", "target_type": "t"} if method == "post" else None)
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "forbidden",
        "message": "You are not allowed to do this.",
        "details": {},
    }
    assert AdminAction.objects.count() == 0
    assert AuditLog.objects.count() == 0


def test_invalid_token_gets_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    response = api_client.get(KPI_URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


# --- POST /actions --------------------------------------------------------------------------


def test_admin_records_an_action_with_its_audit_row(admin_client, admin_user):
    target_id = uuid.uuid4()
    response = admin_client.post(
        ACTIONS_URL,
        {"action": "payment.reconcile", "target_type": "payment", "target_id": str(target_id), "payload": {"n": 2}},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == ACTION_FIELDS
    action = AdminAction.objects.get()
    assert body["id"] == str(action.id)
    assert body["admin_id"] == str(admin_user.id)
    assert (body["action"], body["target_type"], body["target_id"], body["payload"]) == (
        "payment.reconcile",
        "payment",
        str(target_id),
        {"n": 2},
    )
    assert body["created_at"].endswith("Z")
    assert (action.admin_id, action.target_id, action.payload) == (admin_user.id, target_id, {"n": 2})

    audit = AuditLog.objects.get()
    assert audit.actor_id == admin_user.id
    assert audit.action == "admin_ops.action.create"
    assert audit.entity_type == "admin_action"
    assert audit.entity_id == action.id
    assert audit.payload == {
        "action": "payment.reconcile",
        "target_type": "payment",
        "target_id": str(target_id),
        "payload": {"n": 2},
    }


def test_post_defaults_target_id_null_and_payload_empty(admin_client):
    response = admin_client.post(ACTIONS_URL, {"action": "a", "target_type": "t"})
    assert response.status_code == 201
    assert (response.json()["target_id"], response.json()["payload"]) == (None, {})
    assert AuditLog.objects.get().payload == {"action": "a", "target_type": "t", "target_id": None, "payload": {}}


def test_post_ignores_unknown_and_read_only_fields(admin_client, admin_user):
    other_admin = AdminActionFactory().admin
    response = admin_client.post(
        ACTIONS_URL, {"action": "a", "target_type": "t", "admin_id": str(other_admin.id), "extra": True}
    )
    assert response.status_code == 201
    assert AdminAction.objects.get(pk=response.json()["id"]).admin_id == admin_user.id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"target_type": "t"}, "action"),
        ({"action": "", "target_type": "t"}, "action"),
        ({"action": "a" * 129, "target_type": "t"}, "action"),
        ({"action": 7, "target_type": "t"}, "action"),
        ({"action": "a"}, "target_type"),
        ({"action": "a", "target_type": "t" * 65}, "target_type"),
        ({"action": "a", "target_type": "t", "target_id": "nope"}, "target_id"),
        ({"action": "a", "target_type": "t", "target_id": 1}, "target_id"),
        ({"action": "a", "target_type": "t", "payload": ["x"]}, "payload"),
        ({"action": "a", "target_type": "t", "payload": None}, "payload"),
    ],
)
def test_post_validation_errors_are_400_and_write_nothing(admin_client, body, field):
    response = admin_client.post(ACTIONS_URL, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert list(response.json()["error"]["details"]) == [field]
    assert AdminAction.objects.count() == 0
    assert AuditLog.objects.count() == 0


def test_boundary_lengths_are_accepted(admin_client):
    response = admin_client.post(ACTIONS_URL, {"action": "a" * 128, "target_type": "t" * 64})
    assert response.status_code == 201


def test_action_and_audit_commit_together_or_not_at_all(admin_client, monkeypatch):
    def broken_audit(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr(admin_ops_services, "audit_log_record", broken_audit)
    response = admin_client.post(ACTIONS_URL, {"action": "a", "target_type": "t"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert AdminAction.objects.count() == 0
    assert AuditLog.objects.count() == 0


# --- GET /actions ---------------------------------------------------------------------------


def test_actions_list_is_a_page_newest_first(admin_client, admin_user):
    base = clock_module.now()
    old = AdminActionFactory(admin=admin_user, action="old")
    new = AdminActionFactory(admin=admin_user, action="new")
    mid = AdminActionFactory(admin=admin_user, action="mid")
    _stamp(old, base - timedelta(hours=3))
    _stamp(mid, base - timedelta(hours=2))
    _stamp(new, base - timedelta(hours=1))

    body = admin_client.get(ACTIONS_URL).json()
    assert (body["total"], body["limit"], body["offset"]) == (3, 20, 0)
    assert [item["id"] for item in body["items"]] == [str(new.id), str(mid.id), str(old.id)]
    assert set(body["items"][0]) == ACTION_FIELDS
    assert body["items"][0]["admin_id"] == str(admin_user.id)

    page = admin_client.get(ACTIONS_URL, {"limit": 2, "offset": 2}).json()
    assert [item["id"] for item in page["items"]] == [str(old.id)]


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "ten"}])
def test_actions_list_rejects_out_of_range_paging(admin_client, params):
    response = admin_client.get(ACTIONS_URL, params)
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == list(params)


@pytest.mark.parametrize("limit", [1, 100])
def test_actions_list_query_count_does_not_grow_with_page_size(
    admin_client, admin_user, django_assert_num_queries, limit
):
    AdminActionFactory.create_batch(25, admin=admin_user)
    # auth user + page (+ COUNT only when the page is full: a short first page is the whole list)
    with django_assert_num_queries(3 if limit < 25 else 2):
        response = admin_client.get(ACTIONS_URL, {"limit": limit})
    assert len(response.json()["items"]) == min(limit, 25)


# --- GET /kpi/overview ----------------------------------------------------------------------


def test_kpi_on_an_empty_school(admin_client):
    response = admin_client.get(KPI_URL)
    assert response.status_code == 200
    assert _without_stamp(response.json()) == KPI_EMPTY_SCHOOL


def test_kpi_counts_every_status_and_sums_money_exactly(admin_client, school):
    response = admin_client.get(KPI_URL)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == ["generated_at", *KPI_SCHOOL]
    assert _without_stamp(body) == KPI_SCHOOL


def test_kpi_reads_the_counters_in_one_query(admin_client, school, django_assert_num_queries):
    # auth user + one read of the trigger-kept counters (apps/admin_ops/kpi_counters.py), whatever the size
    with django_assert_num_queries(2) as captured:
        response = admin_client.get(KPI_URL)
    assert response.status_code == 200
    assert "FROM kpi_counter_totals" in captured.captured_queries[1]["sql"]


def test_kpi_counted_without_counters_runs_one_aggregate_query_per_table(school, django_assert_num_queries):
    # The path SQLite takes: users, bookings, lessons, payments, packages.
    with django_assert_num_queries(5) as captured:
        counted = selectors.kpi_overview_counted()
    tables = ['"users"', '"bookings"', '"lessons"', '"payments"', '"lesson_packages"']
    for query, table in zip(captured.captured_queries, tables, strict=True):
        assert f"FROM {table}" in query["sql"]
        assert "COUNT(" in query["sql"]
        assert "LIMIT" not in query["sql"]  # an aggregate, not a row fetch
    counted.pop("generated_at")
    from_counters = selectors.kpi_overview()
    from_counters.pop("generated_at")
    assert counted == from_counters


def test_kpi_generated_at_is_the_clock_in_utc_with_z(admin_client, monkeypatch):
    berlin = timezone(timedelta(hours=1))
    monkeypatch.setattr(clock_module, "now", lambda: datetime(2026, 12, 1, 11, 30, tzinfo=berlin))
    assert admin_client.get(KPI_URL).json()["generated_at"] == "2026-12-01T10:30:00Z"
    assert admin_client.get(OPS_URL).json()["generated_at"] == "2026-12-01T10:30:00Z"


# --- GET /ops/overview ----------------------------------------------------------------------


def test_ops_overview_on_an_empty_school(admin_client):
    body = _without_stamp(admin_client.get(OPS_URL).json())
    assert body == {
        "max_retries": 5,
        "outbox_pending": 0,
        "outbox_failed_retryable": 0,
        "outbox_failed_dead_letter": 0,
        "notifications_failed": 0,
        "stale_booking_holds": 0,
        "overdue_active_packages": 0,
    }


def test_ops_overview_counts_what_needs_attention(admin_client, school):
    response = admin_client.get(OPS_URL)
    assert response.status_code == 200
    body = response.json()
    assert list(body) == [
        "generated_at",
        "max_retries",
        "outbox_pending",
        "outbox_failed_retryable",
        "outbox_failed_dead_letter",
        "notifications_failed",
        "stale_booking_holds",
        "overdue_active_packages",
    ]
    assert _without_stamp(body) == {
        "max_retries": 5,
        "outbox_pending": 2,
        "outbox_failed_retryable": 2,  # retries 1 and 4
        "outbox_failed_dead_letter": 2,  # retries 5 and 7
        "notifications_failed": 2,
        "stale_booking_holds": 1,
        "overdue_active_packages": 1,
    }


@pytest.mark.parametrize(
    ("max_retries", "retryable", "dead"), [(1, 0, 4), (2, 1, 3), (5, 2, 2), (6, 3, 1), (8, 4, 0), (100, 4, 0)]
)
def test_ops_overview_max_retries_splits_failed_events(admin_client, school, max_retries, retryable, dead):
    body = admin_client.get(OPS_URL, {"max_retries": max_retries}).json()
    assert body["max_retries"] == max_retries
    assert (body["outbox_failed_retryable"], body["outbox_failed_dead_letter"]) == (retryable, dead)
    assert body["outbox_pending"] == 2


def test_ops_overview_follows_the_clock(admin_client, school, clock):
    clock.advance(minutes=11)  # the fresh hold (10 minutes) is now stale too
    body = admin_client.get(OPS_URL).json()
    assert (body["stale_booking_holds"], body["overdue_active_packages"]) == (2, 1)

    clock.advance(days=31)  # both future packages are now past expires_at
    body = admin_client.get(OPS_URL).json()
    assert (body["stale_booking_holds"], body["overdue_active_packages"]) == (2, 3)


@pytest.mark.parametrize("max_retries", ["0", "101", "-3", "five", "2.5"])
def test_ops_overview_rejects_bad_max_retries(admin_client, max_retries):
    response = admin_client.get(OPS_URL, {"max_retries": max_retries})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert list(response.json()["error"]["details"]) == ["max_retries"]


def test_ops_overview_query_count(admin_client, school, django_assert_num_queries):
    # auth user + outbox aggregate + notifications + stale holds + overdue packages
    with django_assert_num_queries(5) as captured:
        response = admin_client.get(OPS_URL)
    assert response.status_code == 200
    assert all("COUNT(" in query["sql"] for query in captured.captured_queries[1:])


def test_overviews_write_nothing(admin_client, school):
    before = (AdminAction.objects.count(), AuditLog.objects.count())
    admin_client.get(KPI_URL)
    admin_client.get(OPS_URL)
    assert (AdminAction.objects.count(), AuditLog.objects.count()) == before
