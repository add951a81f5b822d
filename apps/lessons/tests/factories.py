"""Lesson test data: a confirmed booking made by the real services carries its lesson."""

from apps.booking.tests.factories import make_confirmed
from apps.lessons.models import Lesson


def make_lesson(**kwargs) -> Lesson:
    """The scheduled lesson of a freshly confirmed booking (kwargs go to make_confirmed)."""
    return Lesson.objects.get(booking=make_confirmed(**kwargs))
