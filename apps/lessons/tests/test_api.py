import datetime as dt
import uuid

import pytest
from rest_framework.test import APIClient

from apps.audit.models import AuditLog, OutboxEvent
from apps.booking.models import BookingStatus
from apps.booking.tests.factories import BookingFactory, future_slot
from apps.common import clock as clock_module
from apps.identity.tests.factories import StudentFactory, TeacherFactory
from apps.lessons.models import Lesson, LessonStatus
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


# --- homework (SPEC §8.5) ---


def test_teacher_writes_homework_before_the_lesson_starts(client_for):
    lesson = make_lesson(slot=future_slot(hours=5))
    response = client_for(lesson.teacher).patch(f"{BASE}/{lesson.pk}", {"homework": "Scales: C major, 60 bpm"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["homework"], body["status"], body["topic"]) == ("Scales: C major, 60 bpm", "scheduled", None)
    lesson.refresh_from_db()
    assert lesson.homework == "Scales: C major, 60 bpm"
    log = AuditLog.objects.get(action="lessons.lesson.update", entity_id=lesson.pk)
    assert (log.actor_id, log.payload) == (
        lesson.teacher_id,
        {"changes": {"homework": [None, "Scales: C major, 60 bpm"]}},
    )


def test_homework_with_topic_and_notes_in_one_audited_change(admin_client, admin_user):
    lesson = make_lesson()
    data = {"topic": "Barre chords", "notes": "F is hard", "homework": "F-C-G, 10 min a day"}
    body = admin_client.patch(f"{BASE}/{lesson.pk}", data).json()
    assert {key: body[key] for key in data} == data
    log = AuditLog.objects.get(action="lessons.lesson.update")
    assert log.actor_id == admin_user.pk
    assert log.payload["changes"] == {key: [None, value] for key, value in data.items()}


def test_homework_can_be_cleared_and_is_bounded(client_for, snapshot):
    lesson = make_lesson()
    url = f"{BASE}/{lesson.pk}"
    teacher = client_for(lesson.teacher)
    assert teacher.patch(url, {"homework": "x" * 5000}).status_code == 200
    assert teacher.patch(url, {"homework": None}, format="json").json()["homework"] is None
    assert teacher.patch(url, {"homework": ""}).json()["homework"] == ""
    before = snapshot(lesson)
    error = assert_error(teacher.patch(url, {"homework": "x" * 5001}), 400, "validation_error")
    assert "homework" in error["details"]
    assert snapshot(lesson) == before


def test_only_the_teacher_or_an_admin_writes_homework(client_for, snapshot):
    lesson = make_lesson()
    before = snapshot(lesson)
    url = f"{BASE}/{lesson.pk}"
    assert_error(client_for(lesson.student).patch(url, {"homework": "none"}), 403, "forbidden")
    assert_error(client_for(TeacherFactory()).patch(url, {"homework": "none"}), 403, "forbidden")
    assert_error(APIClient().patch(url, {"homework": "none"}), 401, "not_authenticated")
    assert snapshot(lesson) == before


def test_same_homework_again_writes_nothing(client_for):
    lesson = make_lesson()
    url = f"{BASE}/{lesson.pk}"
    client_for(lesson.teacher).patch(url, {"homework": "Arpeggios"})
    updated_at = Lesson.objects.get(pk=lesson.pk).updated_at
    assert client_for(lesson.teacher).patch(url, {"homework": "Arpeggios"}).status_code == 200
    assert Lesson.objects.get(pk=lesson.pk).updated_at == updated_at
    assert AuditLog.objects.filter(action="lessons.lesson.update").count() == 1


# --- GET /lessons/my?from=&to=&status= (SPEC §8.5) ---


def _iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


@pytest.fixture
def week(db):
    """One teacher's lessons with one student, a day apart; the third is completed."""
    teacher, student = TeacherFactory(), StudentFactory()
    lessons = [
        make_lesson(student=student, slot=future_slot(hours=24 * (day + 1), teacher=teacher)) for day in range(4)
    ]
    Lesson.objects.filter(pk=lessons[2].pk).update(status=LessonStatus.COMPLETED)
    make_lesson()  # someone else's
    return teacher, student, lessons


def test_my_filters_by_start_from_inclusive_to_exclusive(client_for, week):
    teacher, student, lessons = week
    query = {"from": _iso(lessons[1].scheduled_start_at), "to": _iso(lessons[3].scheduled_start_at)}
    for user in (teacher, student):
        body = client_for(user).get(f"{BASE}/my", query).json()
        assert (body["total"], [item["id"] for item in body["items"]]) == (2, [str(lessons[2].pk), str(lessons[1].pk)])


def test_my_bounds_alone_and_with_status(client_for, admin_client, week):
    teacher, _, lessons = week
    client = client_for(teacher)
    after = client.get(f"{BASE}/my", {"from": _iso(lessons[2].scheduled_start_at)}).json()
    assert [item["id"] for item in after["items"]] == [str(lessons[3].pk), str(lessons[2].pk)]
    before = client.get(f"{BASE}/my", {"to": _iso(lessons[1].scheduled_start_at)}).json()
    assert [item["id"] for item in before["items"]] == [str(lessons[0].pk)]
    completed = client.get(f"{BASE}/my", {"status": "completed"}).json()
    assert [item["id"] for item in completed["items"]] == [str(lessons[2].pk)]
    scheduled_later = client.get(
        f"{BASE}/my", {"status": "scheduled", "from": _iso(lessons[1].scheduled_start_at)}
    ).json()
    assert [item["id"] for item in scheduled_later["items"]] == [str(lessons[3].pk), str(lessons[1].pk)]
    # an admin's filters apply to every lesson
    assert admin_client.get(f"{BASE}/my", {"status": "scheduled"}).json()["total"] == 4
    assert client.get(f"{BASE}/my", {"status": ""}).json()["total"] == 4  # empty means not given


def test_my_offsets_are_honoured_and_an_empty_range_is_empty(client_for, week):
    teacher, _, lessons = week
    start = lessons[1].scheduled_start_at
    shifted = start.astimezone(dt.timezone(dt.timedelta(hours=-5))).isoformat()
    body = client_for(teacher).get(f"{BASE}/my", {"from": shifted, "to": shifted}).json()
    assert body["total"] == 0
    body = client_for(teacher).get(f"{BASE}/my", {"from": shifted}).json()
    assert body["total"] == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"from": "2026-05-02T00:00:00Z", "to": "2026-05-01T00:00:00Z"}, "to"),
        ({"from": "2026-05-01T00:00:00"}, "from"),
        ({"to": "tomorrow"}, "to"),
        ({"status": "done"}, "status"),
        ({"status": "SCHEDULED"}, "status"),
    ],
)
def test_my_bad_filters_are_400(client_for, week, query, field):
    teacher, _, _ = week
    error = assert_error(client_for(teacher).get(f"{BASE}/my", query), 400, "validation_error")
    assert field in error["details"]


@pytest.mark.parametrize("count", [2, 20])
def test_my_filtered_query_count_is_constant(client_for, django_assert_max_num_queries, count):
    teacher = TeacherFactory()
    for hour in range(count):
        make_lesson(slot=future_slot(hours=10 + 2 * hour, teacher=teacher))
    now = clock_module.now()
    query = {"from": _iso(now), "to": _iso(now + dt.timedelta(days=30)), "status": "scheduled", "limit": 100}
    client = client_for(teacher)
    with django_assert_max_num_queries(3):
        response = client.get(f"{BASE}/my", query)
    assert response.json()["total"] == count
