"""`GET /api/v1/booking/teacher/students` (SPEC §8.5): who a teacher teaches, and how far along they are."""

import itertools
from datetime import timedelta

import pytest

from apps.booking.models import BookingStatus
from apps.booking.tests.factories import BookingFactory, future_slot
from apps.common import clock
from apps.identity.tests.factories import StudentFactory, TeacherFactory
from apps.lessons.models import Lesson, LessonStatus

pytestmark = pytest.mark.django_db

URL = "/api/v1/booking/teacher/students"
ROW_FIELDS = {"student_id", "email", "full_name", "lessons_completed", "lessons_upcoming", "last_lesson_at"}


def iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


_slot_hours = itertools.count(48, 2)  # a teacher's slots never overlap: each booking gets its own


def booking(student, teacher, status=BookingStatus.CONFIRMED):
    return BookingFactory(student=student, slot=future_slot(hours=next(_slot_hours), teacher=teacher), status=status)


def lesson(student, teacher, *, starts_in: timedelta, status=LessonStatus.SCHEDULED) -> Lesson:
    """A lesson of (student, teacher) at now + starts_in, with its booking."""
    start = clock.now() + starts_in
    return Lesson.objects.create(
        booking=booking(student, teacher),
        student=student,
        teacher=teacher,
        scheduled_start_at=start,
        scheduled_end_at=start + timedelta(hours=1),
        status=status,
    )


def test_every_student_who_booked_the_caller_with_their_lessons(client_for):
    teacher, other_teacher = TeacherFactory(), TeacherFactory()
    ada = StudentFactory(email="ada@example.com", full_name="Ada Lovelace")
    bo = StudentFactory(email="bo@example.com")
    cy = StudentFactory(email="cy@example.com")
    di = StudentFactory(email="di@example.com")
    StudentFactory(email="eve@example.com")  # booked nobody
    fay = StudentFactory(email="fay@example.com")  # booked only the other teacher

    # ada: two completed lessons (the later one is her last), a missed one and a canceled one after
    # it (neither is a lesson taught), two upcoming; her lessons with another teacher do not count.
    lesson(ada, teacher, starts_in=-timedelta(days=10), status=LessonStatus.COMPLETED)
    last = lesson(ada, teacher, starts_in=-timedelta(days=3), status=LessonStatus.COMPLETED)
    lesson(ada, teacher, starts_in=-timedelta(days=1), status=LessonStatus.NO_SHOW)
    lesson(ada, teacher, starts_in=-timedelta(hours=2), status=LessonStatus.CANCELED)
    lesson(ada, teacher, starts_in=timedelta(days=2))
    lesson(ada, teacher, starts_in=timedelta(days=5))
    lesson(ada, teacher, starts_in=timedelta(days=9), status=LessonStatus.CANCELED)  # canceled: not upcoming
    lesson(ada, other_teacher, starts_in=-timedelta(hours=1), status=LessonStatus.COMPLETED)
    lesson(ada, other_teacher, starts_in=timedelta(days=1))
    # bo: only a hold so far; cy: only an expired hold; both have booked the teacher.
    booking(bo, teacher, status=BookingStatus.HOLD)
    booking(cy, teacher, status=BookingStatus.EXPIRED)
    # di: a lesson under way that nobody has marked yet: it is her last lesson, not an upcoming one.
    under_way = lesson(di, teacher, starts_in=-timedelta(minutes=30))
    lesson(fay, other_teacher, starts_in=-timedelta(days=1), status=LessonStatus.COMPLETED)

    response = client_for(teacher).get(URL)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["total"], body["limit"], body["offset"]) == (4, 20, 0)
    assert body["items"] == [
        {
            "student_id": str(ada.pk),
            "email": "ada@example.com",
            "full_name": "Ada Lovelace",
            "lessons_completed": 2,
            "lessons_upcoming": 2,
            "last_lesson_at": iso(last.scheduled_start_at),
        },
        {
            "student_id": str(bo.pk),
            "email": "bo@example.com",
            "full_name": "",
            "lessons_completed": 0,
            "lessons_upcoming": 0,
            "last_lesson_at": None,
        },
        {
            "student_id": str(cy.pk),
            "email": "cy@example.com",
            "full_name": "",
            "lessons_completed": 0,
            "lessons_upcoming": 0,
            "last_lesson_at": None,
        },
        {
            "student_id": str(di.pk),
            "email": "di@example.com",
            "full_name": "",
            "lessons_completed": 0,
            "lessons_upcoming": 0,
            "last_lesson_at": iso(under_way.scheduled_start_at),
        },
    ]

    # The other teacher sees their own students only.
    other = client_for(other_teacher).get(URL).json()
    assert [item["email"] for item in other["items"]] == ["ada@example.com", "fay@example.com"]
    assert other["items"][0]["lessons_completed"] == 1 and other["items"][0]["lessons_upcoming"] == 1


def test_upcoming_becomes_last_as_time_passes(client_for, clock):
    teacher, student = TeacherFactory(), StudentFactory()
    soon = lesson(student, teacher, starts_in=timedelta(hours=1))
    row = client_for(teacher).get(URL).json()["items"][0]
    assert (row["lessons_upcoming"], row["last_lesson_at"]) == (1, None)
    clock.advance(hours=1)  # starting exactly now: started
    row = client_for(teacher).get(URL).json()["items"][0]
    assert (row["lessons_upcoming"], row["last_lesson_at"]) == (0, iso(soon.scheduled_start_at))


def test_a_teacher_without_students_gets_an_empty_page(client_for):
    assert client_for(TeacherFactory()).get(URL).json() == {"items": [], "total": 0, "limit": 20, "offset": 0}


def test_pagination_by_email(client_for):
    teacher = TeacherFactory()
    students = [StudentFactory(email=f"s{i}@example.com") for i in range(5)]
    for student in reversed(students):
        booking(student, teacher)
    body = client_for(teacher).get(URL, {"limit": 2, "offset": 1}).json()
    assert (body["total"], [item["email"] for item in body["items"]]) == (5, ["s1@example.com", "s2@example.com"])
    response = client_for(teacher).get(URL, {"limit": 0})
    assert response.status_code == 400 and response.json()["error"]["code"] == "validation_error"


def test_several_bookings_of_one_student_make_one_row(client_for):
    teacher, student = TeacherFactory(), StudentFactory()
    for status in (BookingStatus.CANCELED, BookingStatus.CONFIRMED, BookingStatus.HOLD):
        booking(student, teacher, status=status)
    body = client_for(teacher).get(URL).json()
    assert (body["total"], [item["student_id"] for item in body["items"]]) == (1, [str(student.pk)])


@pytest.mark.parametrize("who", ["student_client", "admin_client"])
def test_teachers_only(request, who):
    response = request.getfixturevalue(who).get(URL)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_anonymous_401(api_client):
    assert api_client.get(URL).status_code == 401


@pytest.mark.parametrize("count", [2, 20])
def test_query_count_is_constant(client_for, count, django_assert_max_num_queries):
    teacher = TeacherFactory()
    for _ in range(count):
        student = StudentFactory()
        lesson(student, teacher, starts_in=-timedelta(days=1), status=LessonStatus.COMPLETED)
        lesson(student, teacher, starts_in=timedelta(days=1))
    client = client_for(teacher)
    # the user of the token, the page (its lesson figures are subqueries of it), the COUNT when the page is full
    with django_assert_max_num_queries(3):
        response = client.get(URL, {"limit": 100})
    items = response.json()["items"]
    assert len(items) == count
    assert {(item["lessons_completed"], item["lessons_upcoming"]) for item in items} == {(1, 1)}
    with django_assert_max_num_queries(3):
        assert client.get(URL, {"limit": 1}).json()["total"] == count
