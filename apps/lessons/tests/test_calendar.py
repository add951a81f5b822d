"""Calendar feeds (SPEC §8.5): the secret URL, its rotation, and the .ics read back with the `icalendar` library."""

import re
from datetime import timedelta
from urllib.parse import urlparse

import pytest
from icalendar import Calendar

from apps.audit.models import AuditLog
from apps.billing.tests.factories import PackageFactory
from apps.booking.services import booking_cancel, booking_reschedule
from apps.booking.tests.factories import future_slot
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.lessons.models import CalendarFeed, Lesson
from apps.lessons.tests.factories import bulk_scheduled_lessons, make_lesson
from apps.teachers.tests.factories import TeacherProfileFactory

pytestmark = pytest.mark.django_db

FEED = "/api/v1/calendar/feed"
ROTATE = "/api/v1/calendar/feed/rotate"
FEED_URL = re.compile(r"^http://testserver/api/v1/calendar/(?P<token>[A-Za-z0-9_-]{43,})\.ics$")


def _feed_path(client) -> str:
    response = client.get(FEED)
    assert response.status_code == 200, response.content
    assert FEED_URL.match(response.json()["url"]), response.json()
    return urlparse(response.json()["url"]).path


def _events(api_client, path) -> dict:
    """UID -> VEVENT of the feed at `path`, fetched anonymously."""
    response = api_client.get(path)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.content.startswith(b"BEGIN:VCALENDAR\r\n") and response.content.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in response.content.replace(b"\r\n", b"")  # RFC 5545: every line ends CRLF
    calendar = Calendar.from_ical(response.content)
    assert (str(calendar["VERSION"]), str(calendar["PRODID"])) == ("2.0", "-//GuitarOnline//Lesson calendar//EN")
    return {str(event["UID"]): event for event in calendar.walk("VEVENT")}


def _uid(lesson) -> str:
    return f"lesson-{lesson.pk}@guitaronline"


def _utc_text(event, name: str) -> str:
    return event[name].to_ical().decode()


def _assert_not_found(response):
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "not_found"


# --- the secret URL ----------------------------------------------------------------------------------


def test_the_feed_url_is_absolute_secret_and_the_same_on_every_call(student, client_for):
    client = client_for(student)
    first, second = client.get(FEED).json()["url"], client.get(FEED).json()["url"]

    assert first == second
    token = FEED_URL.match(first)["token"]
    assert CalendarFeed.objects.get(user=student).token == token
    assert len(token) >= 43  # secrets.token_urlsafe(32): 256 random bits
    assert AuditLog.objects.filter(action="lessons.calendar_feed.create", actor=student).count() == 1


def test_every_user_gets_their_own_secret(client_for):
    urls = {client_for(user).get(FEED).json()["url"] for user in (StudentFactory(), TeacherFactory(), AdminFactory())}
    assert len(urls) == 3


def test_anonymous_callers_get_no_url_and_nothing_is_created(api_client):
    assert api_client.get(FEED).status_code == 401
    assert api_client.post(ROTATE).status_code == 401
    assert not CalendarFeed.objects.exists()


def test_rotate_issues_a_new_url_and_the_old_one_answers_404(student, client_for, api_client):
    client = client_for(student)
    old = _feed_path(client)
    assert api_client.get(old).status_code == 200

    response = client.post(ROTATE)
    assert response.status_code == 200
    new = urlparse(response.json()["url"]).path

    assert new != old
    _assert_not_found(api_client.get(old))
    assert api_client.get(new).status_code == 200
    assert _feed_path(client) == new
    assert AuditLog.objects.filter(action="lessons.calendar_feed.rotate", actor=student).count() == 1


def test_rotate_before_any_feed_creates_one(student, client_for, api_client):
    response = client_for(student).post(ROTATE)
    assert response.status_code == 200
    assert FEED_URL.match(response.json()["url"])
    assert _feed_path(client_for(student)) == urlparse(response.json()["url"]).path


# --- who may read it ---------------------------------------------------------------------------------


def test_the_token_is_the_only_credential(client_for, api_client):
    lesson = make_lesson()
    path = _feed_path(client_for(lesson.student))
    owner_content = api_client.get(path).content

    # No login needed; a junk or someone else's Authorization header is not even read.
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert api_client.get(path).content == owner_content
    assert client_for(StudentFactory()).get(path).content == owner_content
    # Without the right token: nothing, whoever asks, whatever they accept.
    for wrong in ("/api/v1/calendar/" + "A" * 43 + ".ics", path.removesuffix(".ics"), path.upper()):
        _assert_not_found(client_for(lesson.student).get(wrong))
        _assert_not_found(api_client.get(wrong, HTTP_ACCEPT="text/calendar"))


def test_no_other_users_lesson_ever_appears(client_for, api_client):
    students, teachers = [StudentFactory(), StudentFactory()], [TeacherFactory(), TeacherFactory()]
    lessons = {}
    for i, s in enumerate(students):
        package = PackageFactory(student=s)
        for t in teachers:
            lessons[s, t] = make_lesson(student=s, package=package, slot=future_slot(hours=24 + 2 * i, teacher=t))
    booking_cancel(actor=teachers[0], booking_id=lessons[students[1], teachers[0]].booking_id)

    for user in (*students, *teachers):
        own = {_uid(lesson) for (s, t), lesson in lessons.items() if user in (s, t)}
        assert set(_events(api_client, _feed_path(client_for(user)))) == own


def test_an_admin_feed_holds_only_their_own_lessons(client_for, api_client):
    make_lesson()
    assert _events(api_client, _feed_path(client_for(AdminFactory()))) == {}


def test_a_deactivated_users_feed_answers_404(student, client_for, api_client):
    path = _feed_path(client_for(student))
    student.is_active = False
    student.save(update_fields=["is_active"])
    _assert_not_found(api_client.get(path))


# --- what it says ---------------------------------------------------------------------------------------


def test_one_vevent_per_lesson_in_utc_with_summary_status_and_stamps(client_for, api_client):
    student = StudentFactory(timezone="Europe/Berlin")
    teacher = TeacherFactory()
    TeacherProfileFactory(user=teacher, display_name="Ann Strings")
    package = PackageFactory(student=student)
    lesson = make_lesson(student=student, package=package, slot=future_slot(hours=30, teacher=teacher))
    unnamed = make_lesson(student=student, package=package, slot=future_slot(hours=60))  # teacher with no profile

    events = _events(api_client, _feed_path(client_for(student)))

    assert set(events) == {_uid(lesson), _uid(unnamed)}
    event = events[_uid(lesson)]
    assert str(event["SUMMARY"]) == "Guitar lesson with Ann Strings"
    assert str(events[_uid(unnamed)]["SUMMARY"]) == f"Guitar lesson with {unnamed.teacher.email}"
    assert str(event["STATUS"]) == "CONFIRMED"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == lesson.scheduled_start_at.replace(microsecond=0)
    assert event.decoded("DTEND") == lesson.scheduled_end_at.replace(microsecond=0)
    for name in ("DTSTART", "DTEND", "DTSTAMP", "LAST-MODIFIED", "CREATED"):
        assert event.decoded(name).utcoffset() == timedelta(0)
        assert _utc_text(event, name).endswith("Z"), name
    assert event.decoded("DTSTAMP") == event.decoded("LAST-MODIFIED") == lesson.updated_at.replace(microsecond=0)
    # The teacher's feed names the student.
    teacher_events = _events(api_client, _feed_path(client_for(teacher)))
    assert str(teacher_events[_uid(lesson)]["SUMMARY"]) == f"Guitar lesson with {student.email}"


def test_uids_and_bytes_are_stable_and_an_unchanged_feed_answers_304(client_for, api_client):
    lesson = make_lesson()
    path = _feed_path(client_for(lesson.student))

    first, second = api_client.get(path), api_client.get(path)
    assert first.content == second.content
    assert first["ETag"] == second["ETag"]
    assert "private" in first["Cache-Control"]

    not_modified = api_client.get(path, HTTP_IF_NONE_MATCH=first["ETag"])
    assert not_modified.status_code == 304
    assert not_modified.content == b""

    client_for(lesson.teacher).patch(f"/api/v1/lessons/{lesson.pk}", {"topic": "Barre chords"}, format="json")
    changed = api_client.get(path, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200
    assert changed["ETag"] != first["ETag"]
    assert set(_events(api_client, path)) == {_uid(lesson)}


def test_cancel_marks_the_event_cancelled_and_raises_its_sequence(client_for, api_client):
    lesson = make_lesson()
    student_path, teacher_path = _feed_path(client_for(lesson.student)), _feed_path(client_for(lesson.teacher))

    booking_cancel(actor=lesson.student, booking_id=lesson.booking_id)

    for path in (student_path, teacher_path):
        event = _events(api_client, path)[_uid(lesson)]
        assert (str(event["STATUS"]), int(event["SEQUENCE"])) == ("CANCELLED", 1)


def test_reschedule_cancels_the_old_event_and_adds_a_new_one(client_for, api_client):
    student = PackageFactory().student
    old = make_lesson(student=student, slot=future_slot(hours=50))
    path = _feed_path(client_for(student))
    new_slot = future_slot(hours=80, teacher=old.teacher)

    booking_reschedule(actor=student, booking_id=old.booking_id, new_slot_id=new_slot.pk)
    new = Lesson.objects.get(booking__slot=new_slot)

    events = _events(api_client, path)
    assert set(events) == {_uid(old), _uid(new)}
    assert (str(events[_uid(old)]["STATUS"]), int(events[_uid(old)]["SEQUENCE"])) == ("CANCELLED", 1)
    assert (str(events[_uid(new)]["STATUS"]), int(events[_uid(new)]["SEQUENCE"])) == ("CONFIRMED", 0)
    assert events[_uid(new)].decoded("DTSTART") == new_slot.start_at.replace(microsecond=0)


def test_every_edit_raises_the_sequence_and_a_no_op_does_not(client_for, api_client, clock):
    lesson = make_lesson(slot=future_slot(hours=2))
    path = _feed_path(client_for(lesson.student))
    teacher = client_for(lesson.teacher)

    def sequence_and_description():
        event = _events(api_client, path)[_uid(lesson)]
        return int(event["SEQUENCE"]), str(event.get("DESCRIPTION", ""))

    assert sequence_and_description() == (0, "")
    teacher.patch(f"/api/v1/lessons/{lesson.pk}", {"topic": "Barre chords"}, format="json")
    assert sequence_and_description() == (1, "Topic: Barre chords")
    teacher.patch(f"/api/v1/lessons/{lesson.pk}", {"notes": "Practise slowly"}, format="json")
    assert sequence_and_description()[0] == 2
    teacher.patch(f"/api/v1/lessons/{lesson.pk}", {"topic": "Barre chords"}, format="json")  # no change
    assert sequence_and_description()[0] == 2
    clock.advance(hours=3)
    assert teacher.patch(f"/api/v1/lessons/{lesson.pk}", {"status": "completed"}, format="json").status_code == 200
    event = _events(api_client, path)[_uid(lesson)]
    assert (str(event["STATUS"]), int(event["SEQUENCE"])) == ("CONFIRMED", 3)


def test_lessons_from_30_days_back_on(client_for, api_client, clock):
    student = PackageFactory().student
    older = make_lesson(student=student, slot=future_slot(hours=1))
    recent = make_lesson(student=student, slot=future_slot(hours=48))
    path = _feed_path(client_for(student))
    clock.advance(days=30, hours=2)  # `older` started 30 days and 1 hour ago, `recent` 28 days and 2 hours ago
    upcoming = make_lesson(student=student, slot=future_slot(hours=5))

    assert set(_events(api_client, path)) == {_uid(recent), _uid(upcoming)}
    assert older.pk != recent.pk


@pytest.mark.parametrize("count", [2, 50])
def test_the_feed_is_two_queries_whatever_the_lesson_count(count, client_for, api_client, django_assert_num_queries):
    student, teacher = StudentFactory(), TeacherFactory()
    TeacherProfileFactory(user=teacher)
    bulk_scheduled_lessons(count, student=student, teacher=teacher)
    path = _feed_path(client_for(student))

    with django_assert_num_queries(2):  # the token's owner, the lessons (with both people's names joined)
        response = api_client.get(path)

    assert len(Calendar.from_ical(response.content).walk("VEVENT")) == count
