"""Reads on lessons."""

from django.db.models import QuerySet

from apps.common.queries import one_or_none, participant_rows
from apps.lessons.models import Lesson


def lesson_list_for(*, user) -> QuerySet[Lesson]:
    """Lessons the user may see, newest scheduled first: own for students and teachers, all for admins."""
    return participant_rows(Lesson.objects.all(), user=user).order_by("-scheduled_start_at", "-id")


def lesson_get(*, lesson_id) -> Lesson | None:
    """One lesson by id, unlocked (None when unknown)."""
    return one_or_none(Lesson.objects.filter(pk=lesson_id))
