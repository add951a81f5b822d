"""Reads on lessons."""

from django.db.models import QuerySet

from apps.common.page_cache import participant_scope
from apps.common.queries import one_or_none, participant_rows
from apps.lessons.models import Lesson

# The page-cache scopes of lesson lists (apps/common/page_cache.py): `lessons:<user id>`, `lessons:all`.
LESSON_LISTS = "lessons"


def lesson_list_for(*, user) -> QuerySet[Lesson]:
    """Lessons the user may see, newest scheduled first: own for students and teachers, all for admins."""
    return participant_rows(Lesson.objects.all(), user=user).order_by("-scheduled_start_at", "-id")


def lesson_list_scope(*, user) -> tuple[str, tuple]:
    """The page-cache scope of `lesson_list_for(user=user)`, and the key part naming who asks."""
    return participant_scope(LESSON_LISTS, user=user)


def lesson_get(*, lesson_id) -> Lesson | None:
    """One lesson by id, unlocked (None when unknown)."""
    return one_or_none(Lesson.objects.filter(pk=lesson_id))


def lesson_exists_for_booking(*, booking_id) -> bool:
    """Whether the booking already has its lesson."""
    return Lesson.objects.filter(booking_id=booking_id).exists()
