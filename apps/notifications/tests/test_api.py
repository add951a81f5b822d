import uuid
from datetime import timedelta

import pytest

from apps.audit.models import AuditLog
from apps.identity.tests.factories import StudentFactory, TeacherFactory
from apps.notifications import selectors
from apps.notifications.models import Notification
from apps.notifications.tests.factories import NotificationFactory, OutboxEventFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/notifications"
FIELDS = {"id", "user_id", "channel", "title", "body", "status", "sent_at", "created_at", "updated_at"}


def _status_url(notification_id) -> str:
    return f"{BASE}/{notification_id}/status"


# --- POST /notifications ---------------------------------------------------------------------


def test_admin_creates_a_pending_notification(admin_client, admin_user, student):
    response = admin_client.post(
        BASE, {"user_id": str(student.pk), "title": "Welcome", "body": "Hi!", "ignored": 1}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == FIELDS
    assert body["user_id"] == str(student.pk)
    assert (body["channel"], body["title"], body["body"], body["status"], body["sent_at"]) == (
        "email",
        "Welcome",
        "Hi!",
        "pending",
        None,
    )
    notification = Notification.objects.get(pk=body["id"])
    assert (notification.user_id, notification.status, notification.outbox_event_id) == (student.pk, "pending", None)
    log = AuditLog.objects.get(action="notifications.notification.create")
    assert (log.actor_id, log.entity_type, log.entity_id) == (admin_user.pk, "notification", notification.pk)


def test_teacher_may_notify_a_student(teacher_client, student):
    response = teacher_client.post(
        BASE, {"user_id": str(student.pk), "channel": "email", "title": "Bring a capo", "body": "Thanks"}
    )
    assert response.status_code == 201
    assert Notification.objects.filter(user=student, title="Bring a capo").count() == 1


def test_student_may_not_create_notifications(student_client, student):
    response = student_client.post(BASE, {"user_id": str(student.pk), "title": "x", "body": "y"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    assert Notification.objects.count() == 0
    assert AuditLog.objects.count() == 0


def test_anonymous_is_401(api_client, student):
    response = api_client.post(BASE, {"user_id": str(student.pk), "title": "x", "body": "y"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_unknown_recipient_is_404(admin_client):
    response = admin_client.post(BASE, {"user_id": str(uuid.uuid4()), "title": "x", "body": "y"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert Notification.objects.count() == 0
    assert AuditLog.objects.count() == 0


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"channel": "sms"}, "channel"),
        ({"channel": ""}, "channel"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "t" * 256}, "title"),
        ({"title": None}, "title"),
        ({"body": ""}, "body"),
        ({"user_id": "not-a-uuid"}, "user_id"),
    ],
)
def test_invalid_input_is_400(admin_client, student, override, field):
    payload = {"user_id": str(student.pk), "title": "Hello", "body": "World", **override}
    response = admin_client.post(BASE, payload, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    assert Notification.objects.count() == 0


def test_missing_fields_are_400(admin_client):
    response = admin_client.post(BASE, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"user_id", "title", "body"}


def test_title_of_255_chars_is_accepted(admin_client, student):
    response = admin_client.post(BASE, {"user_id": str(student.pk), "title": "t" * 255, "body": "b"})
    assert response.status_code == 201


# --- PATCH /notifications/{id}/status ----------------------------------------------------------


def test_recipient_marks_sent_then_pending(client_for, clock):
    notification = NotificationFactory()
    client = client_for(notification.user)
    clock.advance(hours=1)
    response = client.patch(_status_url(notification.pk), {"status": "sent"})
    assert response.status_code == 200, response.json()
    notification.refresh_from_db()
    assert response.json()["status"] == "sent"
    # Stamped from the movable clock (an hour ahead of the wall clock), not from timezone.now().
    assert timedelta(0) <= clock.now() - notification.sent_at < timedelta(seconds=5)
    assert response.json()["sent_at"] is not None

    response = client.patch(_status_url(notification.pk), {"status": "pending"})
    assert response.status_code == 200
    notification.refresh_from_db()
    assert (notification.status, notification.sent_at, response.json()["sent_at"]) == ("pending", None, None)
    actions = list(AuditLog.objects.order_by("created_at").values_list("action", "payload"))
    assert actions == [
        ("notifications.notification.status.update", {"from": "pending", "to": "sent"}),
        ("notifications.notification.status.update", {"from": "sent", "to": "pending"}),
    ]


def test_admin_marks_failed_and_sent_at_is_cleared(admin_client, clock):
    notification = NotificationFactory(status="sent", sent_at=clock.now())
    response = admin_client.patch(_status_url(notification.pk), {"status": "failed"})
    assert response.status_code == 200
    notification.refresh_from_db()
    assert (notification.status, notification.sent_at) == ("failed", None)


def test_same_status_is_a_no_op(admin_client):
    notification = NotificationFactory()
    response = admin_client.patch(_status_url(notification.pk), {"status": "pending"})
    assert response.status_code == 200
    assert response.json()["status"] == "pending"
    assert AuditLog.objects.count() == 0


@pytest.mark.parametrize("other", [StudentFactory, TeacherFactory])
def test_others_may_not_change_status(client_for, other):
    notification = NotificationFactory()
    response = client_for(other()).patch(_status_url(notification.pk), {"status": "sent"})
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
    notification.refresh_from_db()
    assert (notification.status, notification.sent_at) == ("pending", None)
    assert AuditLog.objects.count() == 0


def test_unknown_notification_is_404(admin_client):
    response = admin_client.patch(_status_url(uuid.uuid4()), {"status": "sent"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("value", ["read", "", None, "SENT"])
def test_unknown_status_is_400(admin_client, value):
    notification = NotificationFactory()
    response = admin_client.patch(_status_url(notification.pk), {"status": value}, format="json")
    assert response.status_code == 400
    assert "status" in response.json()["error"]["details"]
    notification.refresh_from_db()
    assert notification.status == "pending"


# --- GET /notifications/my ----------------------------------------------------------------------


def test_my_lists_own_notifications_newest_first(client_for, clock):
    student = StudentFactory()
    mine = []
    for i in range(3):
        mine.append(NotificationFactory(user=student, title=f"n{i}"))
    NotificationFactory()  # someone else's
    response = client_for(student).get(f"{BASE}/my")
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["limit"], body["offset"]) == (3, 20, 0)
    assert [item["title"] for item in body["items"]] == ["n2", "n1", "n0"]
    assert set(body["items"][0]) == FIELDS


@pytest.mark.parametrize("factory", [StudentFactory, TeacherFactory])
def test_every_role_sees_only_their_own(client_for, factory, admin_user):
    user = factory()
    NotificationFactory(user=user)
    NotificationFactory(user=admin_user)
    items = client_for(user).get(f"{BASE}/my").json()["items"]
    assert [item["user_id"] for item in items] == [str(user.pk)]
    admin_items = client_for(admin_user).get(f"{BASE}/my").json()["items"]
    assert [item["user_id"] for item in admin_items] == [str(admin_user.pk)]


def test_my_paginates(client_for):
    student = StudentFactory()
    for _ in range(5):
        NotificationFactory(user=student)
    body = client_for(student).get(f"{BASE}/my?limit=2&offset=4").json()
    assert (body["total"], len(body["items"]), body["limit"], body["offset"]) == (5, 1, 2, 4)


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "offset=-1", "limit=abc"])
def test_my_rejects_bad_paging(student_client, query):
    response = student_client.get(f"{BASE}/my?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("count", [1, 30])
def test_my_query_count_does_not_grow_with_page_size(client_for, django_assert_max_num_queries, count):
    student = StudentFactory()
    NotificationFactory.create_batch(count, user=student)
    client = client_for(student)
    with django_assert_max_num_queries(3):  # user (auth), count, page
        response = client.get(f"{BASE}/my?limit=100")
    assert len(response.json()["items"]) == count


def test_my_requires_authentication(api_client):
    assert api_client.get(f"{BASE}/my").status_code == 401


# --- GET /notifications/delivery/metrics --------------------------------------------------------------


@pytest.fixture
def known_data_set():
    """2 pending, 3 sent, 1 failed notifications; outbox 4 pending, 2 processed, failed with retries 1, 4, 5, 7."""
    NotificationFactory.create_batch(2)
    NotificationFactory.create_batch(3, status="sent")
    NotificationFactory(status="failed")
    OutboxEventFactory.create_batch(4)
    OutboxEventFactory.create_batch(2, status="processed")
    for retries in (1, 4, 5, 7):
        OutboxEventFactory(status="failed", retries=retries)


def test_metrics_count_a_known_data_set(admin_client, known_data_set):
    response = admin_client.get(f"{BASE}/delivery/metrics")
    assert response.status_code == 200
    assert response.json() == {
        "notifications_total": 6,
        "notifications_pending": 2,
        "notifications_sent": 3,
        "notifications_failed": 1,
        "outbox_total": 10,
        "outbox_pending": 4,
        "outbox_processed": 2,
        "outbox_failed": 4,
        "outbox_retryable_failed": 2,
        "outbox_dead_letter": 2,
        "max_retries": 5,
    }


def test_metrics_split_failures_at_the_given_max_retries(admin_client, known_data_set):
    body = admin_client.get(f"{BASE}/delivery/metrics?max_retries=2").json()
    assert (body["outbox_failed"], body["outbox_retryable_failed"], body["outbox_dead_letter"]) == (4, 1, 3)
    assert body["max_retries"] == 2
    body = admin_client.get(f"{BASE}/delivery/metrics?max_retries=100").json()
    assert (body["outbox_retryable_failed"], body["outbox_dead_letter"]) == (4, 0)
    body = admin_client.get(f"{BASE}/delivery/metrics?max_retries=1").json()
    assert (body["outbox_retryable_failed"], body["outbox_dead_letter"]) == (0, 4)


def test_metrics_on_an_empty_database(admin_client):
    body = admin_client.get(f"{BASE}/delivery/metrics").json()
    assert {key: value for key, value in body.items() if key != "max_retries"} == dict.fromkeys(
        [key for key in body if key != "max_retries"], 0
    )


def test_metrics_selector_uses_one_query_per_table(django_assert_num_queries, known_data_set):
    with django_assert_num_queries(2):
        selectors.delivery_metrics(max_retries=5)


def test_metrics_endpoint_query_count(admin_client, django_assert_max_num_queries, known_data_set):
    with django_assert_max_num_queries(3):  # user (auth) + one aggregate per table
        assert admin_client.get(f"{BASE}/delivery/metrics").status_code == 200


@pytest.mark.parametrize("value", ["0", "101", "abc", "-1", "1.5"])
def test_metrics_reject_bad_max_retries(admin_client, value):
    response = admin_client.get(f"{BASE}/delivery/metrics?max_retries={value}")
    assert response.status_code == 400
    assert "max_retries" in response.json()["error"]["details"]


@pytest.mark.parametrize("client_name", ["student_client", "teacher_client"])
def test_metrics_are_admin_only(request, client_name):
    response = request.getfixturevalue(client_name).get(f"{BASE}/delivery/metrics")
    assert response.status_code == 403


def test_paths_do_not_redirect(admin_client):
    assert admin_client.get(f"{BASE}/my").status_code == 200
    assert admin_client.get(f"{BASE}/delivery/metrics").status_code == 200
