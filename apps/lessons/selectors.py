"""Reads on lessons."""

from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from apps.common.queries import one_or_none, participant_rows
from apps.lessons.models import Lesson, LessonStatus


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


def lesson_get(*, lesson_id) -> Lesson | None:
    """One lesson by id, unlocked (None when unknown)."""
    return one_or_none(Lesson.objects.filter(pk=lesson_id))


def lesson_exists_for_booking(*, booking_id) -> bool:
    """Whether the booking already has its lesson."""
    return Lesson.objects.filter(booking_id=booking_id).exists()


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
