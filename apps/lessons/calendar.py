"""A user's lessons as an iCalendar feed (RFC 5545), written by the `icalendar` library.

One VEVENT per lesson:

- `UID` `lesson-<lesson id>@guitaronline`: stable for the lesson's whole life,
  so a client updates the event instead of adding another. A rescheduled
  booking gets a new lesson, hence a new event; the old one turns cancelled.
- `SEQUENCE` is the lesson's `sequence`, raised by every service that changes
  the lesson; `DTSTAMP` and `LAST-MODIFIED` are its `updated_at` (RFC 5545
  §3.8.7.2: without a METHOD, DTSTAMP is the last revision), `CREATED` its
  `created_at`. All times are UTC (`...Z`).
- `STATUS:CANCELLED` for a canceled lesson, `CONFIRMED` otherwise.

Nothing in it depends on the moment it is rendered, so the same lessons give
the same bytes (and the same ETag).
"""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from icalendar import Calendar, Event, vDuration

from apps.lessons.errors import CalendarFeedNotFound
from apps.lessons.models import LessonStatus
from apps.lessons.selectors import CalendarLesson, calendar_feed_lessons, calendar_feed_owner

PRODID = "-//GuitarOnline//Lesson calendar//EN"
CALENDAR_NAME = "GuitarOnline lessons"
# A hint to clients on how often to poll (RFC 7986 REFRESH-INTERVAL; X-PUBLISHED-TTL for Outlook).
REFRESH_INTERVAL = timedelta(hours=1)


def lesson_uid(lesson_id: UUID) -> str:
    return f"lesson-{lesson_id}@guitaronline"


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _event(lesson: CalendarLesson) -> Event:
    return Event.new(
        uid=lesson_uid(lesson.id),
        start=_utc(lesson.start_at),
        end=_utc(lesson.end_at),
        summary=f"Guitar lesson with {lesson.with_name}",
        description=f"Topic: {lesson.topic}" if lesson.topic else None,
        status="CANCELLED" if lesson.status == LessonStatus.CANCELED else "CONFIRMED",
        sequence=lesson.sequence,
        stamp=_utc(lesson.updated_at),
        last_modified=_utc(lesson.updated_at),
        created=_utc(lesson.created_at),
    )


def lessons_ics(*, user_id: UUID, lessons: list[CalendarLesson]) -> bytes:
    """The iCalendar document of these lessons (the feed of user `user_id`)."""
    calendar = Calendar.new(
        prodid=PRODID,
        name=CALENDAR_NAME,
        uid=f"lessons-{user_id}@guitaronline",
        calscale="GREGORIAN",
        subcomponents=[_event(lesson) for lesson in lessons],
    )
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    return calendar.to_ical()


def calendar_feed_ics(*, token: str) -> bytes:
    """The calendar behind a feed secret (CalendarFeedNotFound for an unknown or rotated-out one). Two queries."""
    user_id = calendar_feed_owner(token=token)
    if user_id is None:
        raise CalendarFeedNotFound()
    return lessons_ics(user_id=user_id, lessons=calendar_feed_lessons(user_id=user_id))
