"""Reads on lessons."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db.models import Q, QuerySet

from apps.common import clock
from apps.common.queries import one_or_none, participant_rows
from apps.lessons.models import CalendarFeed, Lesson

# A calendar feed shows lessons that started at most this long ago, and every later one.
CALENDAR_FEED_DAYS_BACK = 30


def lesson_list_for(*, user) -> QuerySet[Lesson]:
    """Lessons the user may see, newest scheduled first: own for students and teachers, all for admins."""
    return participant_rows(Lesson.objects.all(), user=user).order_by("-scheduled_start_at", "-id")


def lesson_get(*, lesson_id) -> Lesson | None:
    """One lesson by id, unlocked (None when unknown)."""
    return one_or_none(Lesson.objects.filter(pk=lesson_id))


def lesson_exists_for_booking(*, booking_id) -> bool:
    """Whether the booking already has its lesson."""
    return Lesson.objects.filter(booking_id=booking_id).exists()


@dataclass(frozen=True)
class CalendarLesson:
    """What one VEVENT of a calendar feed shows."""

    id: UUID
    start_at: datetime
    end_at: datetime
    status: str
    topic: str | None
    sequence: int
    created_at: datetime
    updated_at: datetime
    with_name: str  # the other party: the teacher for a student, the student for a teacher


def calendar_feed_owner(*, token: str) -> UUID | None:
    """The id of the active user whose feed secret this is (None: unknown, rotated out, or user deactivated)."""
    return one_or_none(CalendarFeed.objects.filter(token=token, user__is_active=True).values_list("user_id", flat=True))


def calendar_feed_lessons(*, user_id: UUID) -> list[CalendarLesson]:
    """The user's own lessons (as student or teacher) from CALENDAR_FEED_DAYS_BACK days back on, soonest first.

    Canceled ones included (calendars show them as cancelled). One query: the
    other party's name comes joined in (teacher profile display name, else
    email; a student's email).
    """
    since = clock.now() - timedelta(days=CALENDAR_FEED_DAYS_BACK)
    rows = (
        Lesson.objects.filter(Q(student_id=user_id) | Q(teacher_id=user_id), scheduled_start_at__gte=since)
        .order_by("scheduled_start_at", "id")
        .values_list(
            "id",
            "scheduled_start_at",
            "scheduled_end_at",
            "status",
            "topic",
            "sequence",
            "created_at",
            "updated_at",
            "student_id",
            "student__email",
            "teacher__email",
            "teacher__teacher_profile__display_name",
        )
    )
    lessons = []
    for *fields, student_id, student_email, teacher_email, teacher_name in rows:
        with_name = student_email if student_id != user_id else (teacher_name or teacher_email)
        lessons.append(CalendarLesson(*fields, with_name=with_name))
    return lessons
