"""Reads on lessons."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from apps.common import clock
from apps.common.page_cache import participant_scope
from apps.common.queries import one_or_none, participant_rows
from apps.lessons.models import CalendarFeed, Lesson, LessonStatus

# A calendar feed shows lessons that started at most this long ago, and every later one.
CALENDAR_FEED_DAYS_BACK = 30

# The page-cache scopes of lesson lists (apps/common/page_cache.py): `lessons:<user id>`, `lessons:all`.
LESSON_LISTS = "lessons"


def lesson_list_for(
    *, user, start_from: datetime | None = None, start_to: datetime | None = None, status: str | None = None
) -> QuerySet[Lesson]:
    """Lessons the user may see, newest scheduled first: own for students and teachers, all for admins.

    `start_from <= scheduled_start_at < start_to` when given; `status` filters by lesson status.
    """
    lessons = participant_rows(Lesson.objects.all(), user=user)
    if start_from is not None:
        lessons = lessons.filter(scheduled_start_at__gte=start_from)
    if start_to is not None:
        lessons = lessons.filter(scheduled_start_at__lt=start_to)
    if status:
        lessons = lessons.filter(status=status)
    return lessons.order_by("-scheduled_start_at", "-id")


def lesson_list_scope(*, user) -> tuple[str, tuple]:
    """The page-cache scope of `lesson_list_for(user=user)`, and the key part naming who asks."""
    return participant_scope(LESSON_LISTS, user=user)


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


def _count_of(lessons: QuerySet[Lesson]) -> Coalesce:
    counted = lessons.order_by().values("student_id").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def lesson_stats_per_student(*, teacher_id, now: datetime) -> dict:
    """Annotations for a queryset of users: each one's lessons as the student of `teacher_id`.

    - `lessons_completed`: lessons `completed`;
    - `lessons_upcoming`: lessons `scheduled` that have not started yet;
    - `last_lesson_at`: the start of the latest lesson that has started and was
      not canceled or missed (`completed`, or `scheduled` and under way / not yet
      marked), null when none.

    Correlated subqueries on the (teacher_id, scheduled_start_at) index: a
    constant number of queries however many students a page holds.
    """
    pair = Lesson.objects.filter(teacher_id=teacher_id, student_id=OuterRef("pk"))
    last = pair.filter(
        status__in=[LessonStatus.COMPLETED, LessonStatus.SCHEDULED], scheduled_start_at__lte=now
    ).order_by("-scheduled_start_at")
    return {
        "lessons_completed": _count_of(pair.filter(status=LessonStatus.COMPLETED)),
        "lessons_upcoming": _count_of(pair.filter(status=LessonStatus.SCHEDULED, scheduled_start_at__gt=now)),
        "last_lesson_at": Subquery(last.values("scheduled_start_at")[:1]),
    }
