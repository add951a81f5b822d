import uuid
from datetime import timedelta

import pytest

from apps.audit.models import AuditLog, OutboxEvent
from apps.audit.tests.factories import AuditLogFactory, OutboxEventFactory
from apps.common import clock

pytestmark = pytest.mark.django_db

LOGS_URL = "/api/v1/audit/logs"
OUTBOX_URL = "/api/v1/audit/outbox/pending"

AUDIT_LOG_FIELDS = {"id", "actor_id", "action", "entity_type", "entity_id", "payload", "created_at", "updated_at"}
OUTBOX_FIELDS = {
    "id",
    "aggregate_type",
    "aggregate_id",
    "event_type",
    "payload",
    "status",
    "occurred_at",
    "processed_at",
    "retries",
    "error_message",
    "created_at",
    "updated_at",
}


def _stamp(log, created_at):
    """Give a row an exact created_at (auto_now_add ignores the value passed to create)."""
    type(log).objects.filter(pk=log.pk).update(created_at=created_at)


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url"), [("get", LOGS_URL), ("post", LOGS_URL), ("get", OUTBOX_URL)])
def test_anonymous_gets_401(api_client, method, url):
    response = getattr(api_client, method)(url, {"action": "x", "entity_type": "y"} if method == "post" else None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert AuditLog.objects.count() == 0


@pytest.mark.parametrize("role_client", ["student_client", "teacher_client"])
@pytest.mark.parametrize(("method", "url"), [("get", LOGS_URL), ("post", LOGS_URL), ("get", OUTBOX_URL)])
def test_non_admin_gets_403(request, role_client, method, url):
    client = request.getfixturevalue(role_client)
    response = getattr(client, method)(url, {"action": "x", "entity_type": "y"} if method == "post" else None)
    assert response.status_code == 403
    assert response.json() == {
        "error": {"code": "forbidden", "message": "You are not allowed to do this.", "details": {}}
    }
    assert AuditLog.objects.count() == 0


def test_path_with_trailing_slash_is_not_a_redirect(admin_client):
    assert admin_client.get(LOGS_URL).status_code == 200
    assert admin_client.get(LOGS_URL + "/").status_code == 404


# --- POST /logs -----------------------------------------------------------------------------


def test_admin_records_an_audit_log(admin_client, admin_user):
    entity_id = uuid.uuid4()
    response = admin_client.post(
        LOGS_URL,
        {"action": "ops.manual.note", "entity_type": "booking", "entity_id": str(entity_id), "payload": {"k": [1, 2]}},
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == AUDIT_LOG_FIELDS
    log = AuditLog.objects.get()
    assert body["id"] == str(log.id)
    assert body["actor_id"] == str(admin_user.id)
    assert body["action"] == "ops.manual.note"
    assert body["entity_type"] == "booking"
    assert body["entity_id"] == str(entity_id)
    assert body["payload"] == {"k": [1, 2]}
    assert body["created_at"].endswith("Z")
    assert log.actor_id == admin_user.id
    assert log.entity_id == entity_id
    assert log.payload == {"k": [1, 2]}


def test_post_defaults_entity_id_null_and_payload_empty(admin_client, admin_user):
    response = admin_client.post(LOGS_URL, {"action": "a", "entity_type": "e"})
    assert response.status_code == 201
    assert response.json()["entity_id"] is None
    assert response.json()["payload"] == {}
    log = AuditLog.objects.get()
    assert (log.entity_id, log.payload) == (None, {})


def test_post_accepts_explicit_null_entity_id_and_boundary_lengths(admin_client):
    response = admin_client.post(LOGS_URL, {"action": "a" * 128, "entity_type": "e" * 64, "entity_id": None})
    assert response.status_code == 201
    assert AuditLog.objects.get().action == "a" * 128


def test_post_ignores_unknown_and_read_only_fields(admin_client, admin_user, student):
    forged_id = uuid.uuid4()
    response = admin_client.post(
        LOGS_URL,
        {"action": "a", "entity_type": "e", "id": str(forged_id), "actor_id": str(student.id), "color": "red"},
    )
    assert response.status_code == 201
    log = AuditLog.objects.get()
    assert log.id != forged_id
    assert log.actor_id == admin_user.id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"entity_type": "e"}, "action"),
        ({"action": "", "entity_type": "e"}, "action"),
        ({"action": "   ", "entity_type": "e"}, "action"),
        ({"action": "a" * 129, "entity_type": "e"}, "action"),
        ({"action": 12, "entity_type": "e"}, "action"),
        ({"action": None, "entity_type": "e"}, "action"),
        ({"action": "a"}, "entity_type"),
        ({"action": "a", "entity_type": "e" * 65}, "entity_type"),
        ({"action": "a", "entity_type": ["e"]}, "entity_type"),
        ({"action": "a", "entity_type": "e", "entity_id": "not-a-uuid"}, "entity_id"),
        ({"action": "a", "entity_type": "e", "entity_id": 5}, "entity_id"),
        ({"action": "a", "entity_type": "e", "payload": [1, 2]}, "payload"),
        ({"action": "a", "entity_type": "e", "payload": "text"}, "payload"),
        ({"action": "a", "entity_type": "e", "payload": 3}, "payload"),
        ({"action": "a", "entity_type": "e", "payload": None}, "payload"),
    ],
)
def test_post_validation_errors_are_400_and_write_nothing(admin_client, body, field):
    response = admin_client.post(LOGS_URL, body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == [field]
    assert AuditLog.objects.count() == 0


def test_post_malformed_json_is_400(admin_client):
    response = admin_client.post(LOGS_URL, data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert AuditLog.objects.count() == 0


# --- GET /logs ------------------------------------------------------------------------------


def test_list_is_a_page_newest_first(admin_client, admin_user):
    base = clock.now()
    oldest = AuditLogFactory(action="one", actor=admin_user)
    newest = AuditLogFactory(action="three")
    middle = AuditLogFactory(action="two")
    _stamp(oldest, base - timedelta(hours=3))
    _stamp(middle, base - timedelta(hours=2))
    _stamp(newest, base - timedelta(hours=1))

    response = admin_client.get(LOGS_URL)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "limit", "offset"}
    assert (body["total"], body["limit"], body["offset"]) == (3, 20, 0)
    assert [item["id"] for item in body["items"]] == [str(newest.id), str(middle.id), str(oldest.id)]
    assert set(body["items"][0]) == AUDIT_LOG_FIELDS
    assert body["items"][2]["actor_id"] == str(admin_user.id)
    assert body["items"][0]["actor_id"] is None

    page = admin_client.get(LOGS_URL, {"limit": 1, "offset": 1}).json()
    assert (page["total"], page["limit"], page["offset"]) == (3, 1, 1)
    assert [item["id"] for item in page["items"]] == [str(middle.id)]
    assert admin_client.get(LOGS_URL, {"offset": 3}).json()["items"] == []


def test_list_filters_are_exact_matches(admin_client):
    hit = AuditLogFactory(action="booking.confirm", entity_type="booking")
    AuditLogFactory(action="booking.confirm", entity_type="lesson")
    AuditLogFactory(action="booking.confirm.extra", entity_type="booking")
    AuditLogFactory(action="Booking.Confirm", entity_type="booking")
    AuditLogFactory(action="booking.cancel", entity_type="Booking")

    by_action = admin_client.get(LOGS_URL, {"action": "booking.confirm"}).json()
    assert by_action["total"] == 2
    assert {item["action"] for item in by_action["items"]} == {"booking.confirm"}

    by_type = admin_client.get(LOGS_URL, {"entity_type": "booking"}).json()
    assert by_type["total"] == 3
    assert {item["entity_type"] for item in by_type["items"]} == {"booking"}

    both = admin_client.get(LOGS_URL, {"action": "booking.confirm", "entity_type": "booking"}).json()
    assert [item["id"] for item in both["items"]] == [str(hit.id)]

    assert admin_client.get(LOGS_URL, {"action": "booking"}).json()["total"] == 0
    assert admin_client.get(LOGS_URL, {"action": ""}).json()["total"] == 5


def test_nul_characters_are_400_not_500(admin_client):
    """Found by schema fuzzing: PostgreSQL cannot store or compare text with NUL (jsonb included)."""
    for params in ({"action": "a\x00b"}, {"entity_type": "\x00"}):
        response = admin_client.get(LOGS_URL, params)
        assert response.status_code == 400
        assert list(response.json()["error"]["details"]) == list(params)
    for payload in ({"k\x00": 1}, {"k": ["ok", {"deep": "\x00"}]}):
        response = admin_client.post(LOGS_URL, {"action": "a", "entity_type": "e", "payload": payload})
        assert response.status_code == 400
        assert list(response.json()["error"]["details"]) == ["payload"]
    unpaired = '{"action": "a", "entity_type": "e", "payload": {"k": "\\udb0d"}}'
    response = admin_client.post(LOGS_URL, data=unpaired, content_type="application/json")
    assert response.status_code == 400
    assert list(response.json()["error"]["details"]) == ["payload"]
    assert AuditLog.objects.count() == 0


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 101},
        {"limit": "x"},
        {"offset": -1},
        {"offset": "y"},
        {"offset": 2**31},
        {"offset": 10**22},
    ],
)
def test_list_rejects_out_of_range_paging(admin_client, params):
    response = admin_client.get(LOGS_URL, params)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert list(response.json()["error"]["details"]) == list(params)


@pytest.mark.parametrize("limit", [1, 100])
def test_list_query_count_does_not_grow_with_page_size(admin_client, admin_user, django_assert_num_queries, limit):
    AuditLogFactory.create_batch(30, actor=admin_user)
    # auth user + page (+ COUNT only when the page is full: a short first page is the whole list)
    with django_assert_num_queries(3 if limit < 25 else 2):
        response = admin_client.get(LOGS_URL, {"limit": limit})
    assert response.status_code == 200
    assert len(response.json()["items"]) == min(limit, 30)


# --- GET /outbox/pending --------------------------------------------------------------------


def test_outbox_pending_is_an_array_oldest_first_and_pending_only(admin_client):
    base = clock.now()
    later = OutboxEventFactory(occurred_at=base - timedelta(minutes=1), payload={"booking_id": "b"})
    oldest = OutboxEventFactory(occurred_at=base - timedelta(minutes=5))
    # Same occurred_at: ties break by id.
    tie_a, tie_b = sorted(
        OutboxEventFactory.create_batch(2, occurred_at=base - timedelta(minutes=3)), key=lambda event: event.id
    )
    OutboxEventFactory(status=OutboxEvent.Status.PROCESSED, occurred_at=base - timedelta(hours=1), processed_at=base)
    OutboxEventFactory(status=OutboxEvent.Status.FAILED, occurred_at=base - timedelta(hours=1), retries=2)

    response = admin_client.get(OUTBOX_URL)
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert [event["id"] for event in body] == [str(oldest.id), str(tie_a.id), str(tie_b.id), str(later.id)]
    assert set(body[0]) == OUTBOX_FIELDS
    last = body[-1]
    assert last["status"] == "pending"
    assert last["payload"] == {"booking_id": "b"}
    assert last["aggregate_type"] == "booking"
    assert last["aggregate_id"] == str(later.aggregate_id)
    assert last["event_type"] == "booking.confirmed"
    assert (last["retries"], last["error_message"], last["processed_at"]) == (0, "", None)
    assert last["occurred_at"].endswith("Z")


def test_outbox_pending_limit(admin_client):
    base = clock.now()
    events = [OutboxEventFactory(occurred_at=base - timedelta(minutes=10 - i)) for i in range(5)]
    body = admin_client.get(OUTBOX_URL, {"limit": 2}).json()
    assert [event["id"] for event in body] == [str(events[0].id), str(events[1].id)]
    assert len(admin_client.get(OUTBOX_URL, {"limit": 1000}).json()) == 5
    assert len(admin_client.get(OUTBOX_URL, {"limit": 1}).json()) == 1


def test_outbox_pending_default_limit_is_100(admin_client):
    OutboxEventFactory.create_batch(101)
    assert len(admin_client.get(OUTBOX_URL).json()) == 100


def test_outbox_pending_empty_is_an_empty_array(admin_client):
    response = admin_client.get(OUTBOX_URL)
    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "abc", "1.5"])
def test_outbox_pending_rejects_bad_limit(admin_client, limit):
    response = admin_client.get(OUTBOX_URL, {"limit": limit})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert list(error["details"]) == ["limit"]


@pytest.mark.parametrize("limit", [1, 1000])
def test_outbox_pending_query_count_is_fixed(admin_client, django_assert_num_queries, limit):
    OutboxEventFactory.create_batch(30)
    # auth user + one SELECT
    with django_assert_num_queries(2):
        response = admin_client.get(OUTBOX_URL, {"limit": limit})
    assert len(response.json()) == min(limit, 30)
