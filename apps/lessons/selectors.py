"""Reads on lessons."""

from django.db.models import QuerySet

from apps.common.queries import one_or_none
from apps.lessons.models import Lesson


def lesson_list_for(*, user) -> QuerySet[Lesson]:
    """Lessons the user may see, newest scheduled first: own for students and teachers, all for admins."""
    queryset = Lesson.objects.all()
    if user.is_admin:
        pass
    elif user.is_teacher:
        queryset = queryset.filter(teacher_id=user.pk)
    else:
        queryset = queryset.filter(student_id=user.pk)
    return queryset.order_by("-scheduled_start_at", "-id")


def lesson_get(*, lesson_id) -> Lesson | None:
    """One lesson by id, unlocked (None when unknown)."""
    return one_or_none(Lesson.objects.filter(pk=lesson_id))
