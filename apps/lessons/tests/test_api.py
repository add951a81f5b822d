import uuid

import pytest

from apps.audit.models import AuditLog, OutboxEvent
from apps.booking.models import BookingStatus
from apps.booking.tests.factories import BookingFactory, future_slot
from apps.identity.tests.factories import StudentFactory, TeacherFactory
from apps.lessons.models import Lesson
from apps.lessons.tests.factories import make_lesson

pytestmark = pytest.mark.django_db

BASE = "/api/v1/lessons"
LESSON_FIELDS = {
    "id",
    "booking_id",
    "student_id",
    "teacher_id",
    "scheduled_start_at",
    "scheduled_end_at",
    "status",
    "topic",
    "notes",
    "homework",
    "created_at",
    "updated_at",
}


def assert_error(response, status_code: int, code: str):
    assert response.status_code == status_code, response.content
    assert response.json()["error"]["code"] == code
    return response.json()["error"]


def test_admin_creates_the_missing_lesson(admin_client, admin_user):
    booking = BookingFactory(status=BookingStatus.CONFIRMED)
    response = admin_client.post(BASE, {"booking_id": str(booking.pk), "topic": "Blues", "notes": "12 bars"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == LESSON_FIELDS
    assert body["booking_id"] == str(booking.pk)
    assert body["student_id"] == str(booking.student_id)
    assert body["teacher_id"] == str(booking.teacher_id)
    assert body["status"] == "scheduled"
    assert (body["topic"], body["notes"]) == ("Blues", "12 bars")
    assert body["scheduled_start_at"].endswith("Z")
    assert OutboxEvent.objects.filter(event_type="lesson.created", aggregate_id=body["id"]).count() == 1
    assert AuditLog.objects.filter(action="lessons.lesson.create", actor=admin_user).count() == 1


def test_create_refusals(admin_client, client_for, snapshot):
    hold = BookingFactory(status=BookingStatus.HOLD)
    canceled = BookingFactory(status=BookingStatus.CANCELED)
    existing = make_lesson()
    before = snapshot(hold, canceled, existing)
    assert_error(admin_client.post(BASE, {"booking_id": str(uuid.uuid4())}), 404, "not_found")
    assert_error(admin_client.post(BASE, {"booking_id": str(hold.pk)}), 422, "business_rule_violation")
    assert_error(admin_client.post(BASE, {"booking_id": str(canceled.pk)}), 422, "business_rule_violation")
    assert_error(admin_client.post(BASE, {"booking_id": str(existing.booking_id)}), 409, "conflict")
    assert_error(admin_client.post(BASE, {}), 400, "validation_error")
    assert_error(admin_client.post(BASE, {"booking_id": "x"}), 400, "validation_error")
    for user in (existing.teacher, existing.student):
        assert_error(client_for(user).post(BASE, {"booking_id": str(hold.pk)}), 403, "forbidden")
    assert snapshot(hold, canceled, existing) == before


def test_teacher_completes_a_started_lesson(client_for, clock):
    lesson = make_lesson(slot=future_slot(hours=1))
    clock.advance(hours=1, minutes=30)
    response = client_for(lesson.teacher).patch(
        f"{BASE}/{lesson.pk}", {"status": "completed", "topic": "Arpeggios", "notes": "good"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == LESSON_FIELDS
    assert (body["status"], body["topic"], body["notes"]) == ("completed", "Arpeggios", "good")
    assert AuditLog.objects.filter(action="lessons.lesson.update", entity_id=lesson.pk).count() == 1


def test_patch_refusals(client_for, admin_client, snapshot):
    lesson = make_lesson(slot=future_slot(hours=5))
    before = snapshot(lesson)
    url = f"{BASE}/{lesson.pk}"
    teacher = client_for(lesson.teacher)
    assert_error(teacher.patch(url, {"status": "completed"}), 422, "business_rule_violation")  # not started
    assert_error(teacher.patch(url, {"status": "canceled"}), 422, "business_rule_violation")
    assert_error(teacher.patch(url, {"status": "done"}), 400, "validation_error")
    assert_error(teacher.patch(url, {"topic": "x" * 256}), 400, "validation_error")
    assert_error(client_for(lesson.student).patch(url, {"topic": "mine"}), 403, "forbidden")
    assert_error(client_for(TeacherFactory()).patch(url, {"topic": "mine"}), 403, "forbidden")
    assert_error(admin_client.patch(f"{BASE}/{uuid.uuid4()}", {"topic": "x"}), 404, "not_found")
    assert snapshot(lesson) == before
    assert admin_client.get(url).status_code == 405


def test_my_lists_own_lessons_newest_scheduled_first(client_for, admin_client):
    student = StudentFactory()
    teacher = TeacherFactory()
    early = make_lesson(student=student, slot=future_slot(hours=30, teacher=teacher))
    late = make_lesson(student=student, slot=future_slot(hours=60, teacher=teacher))
    other = make_lesson(slot=future_slot(hours=45, teacher=teacher))
    unrelated = make_lesson()

    body = client_for(student).get(f"{BASE}/my").json()
    assert body["total"] == 2
    assert [item["id"] for item in body["items"]] == [str(late.pk), str(early.pk)]
    assert set(body["items"][0]) == LESSON_FIELDS

    as_teacher = client_for(teacher).get(f"{BASE}/my").json()
    assert [item["id"] for item in as_teacher["items"]] == [str(late.pk), str(other.pk), str(early.pk)]

    as_admin = admin_client.get(f"{BASE}/my").json()
    assert as_admin["total"] == 4
    assert str(unrelated.pk) in {item["id"] for item in as_admin["items"]}
    assert_error(admin_client.get(f"{BASE}/my", {"limit": 101}), 400, "validation_error")


def test_my_needs_a_token(api_client):
    assert_error(api_client.get(f"{BASE}/my"), 401, "not_authenticated")


@pytest.mark.parametrize("count", [1, 12])
def test_my_query_count_does_not_grow_with_page_size(admin_client, django_assert_max_num_queries, count):
    for _ in range(count):
        make_lesson()
    with django_assert_max_num_queries(3):
        response = admin_client.get(f"{BASE}/my", {"limit": 100})
    assert response.json()["total"] == count
    assert Lesson.objects.count() == count
