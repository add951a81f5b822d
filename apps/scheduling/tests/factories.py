from datetime import datetime, timedelta

import factory

from apps.common import clock
from apps.identity.tests.factories import AdminFactory, TeacherFactory
from apps.scheduling.models import AvailabilitySlot, ScheduleWindow, SlotStatus, WeeklySchedule
from apps.scheduling.schedule_times import minutes_of
from apps.teachers.tests.factories import TeacherProfileFactory

SLOT_LENGTH = timedelta(hours=1)
# Each factory slot starts two hours after the previous one, so slots made by the
# factory never overlap, even when they share a teacher.
SLOT_SPACING = timedelta(hours=2)


def _anchor() -> datetime:
    """Top of the hour, one day after the (possibly moved) clock: always in the future."""
    return (clock.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)


class SlotFactory(factory.django.DjangoModelFactory):
    """An open, future, one-hour slot. Pass `start_at=` (and `end_at=`) for exact times."""

    class Meta:
        model = AvailabilitySlot

    teacher = factory.SubFactory(TeacherFactory)
    created_by_admin = factory.SubFactory(AdminFactory)
    start_at = factory.Sequence(lambda n: _anchor() + n * SLOT_SPACING)
    end_at = factory.LazyAttribute(lambda o: o.start_at + SLOT_LENGTH)
    status = SlotStatus.OPEN


def make_schedule(
    teacher, *, windows=((0, "09:00", "12:00"),), timezone: str = "UTC", slot_minutes: int = 60, approved: bool = True
) -> WeeklySchedule:
    """A weekly schedule written straight to the tables (no audit row); `windows` as (weekday, "HH:MM", "HH:MM").

    With `approved`, the teacher also gets an approved profile (unless they have one), so `generate` may run.
    """
    if approved and not hasattr(teacher, "teacher_profile"):
        TeacherProfileFactory(user=teacher, is_approved=True)
    schedule = WeeklySchedule.objects.create(teacher=teacher, timezone=timezone, slot_minutes=slot_minutes)
    ScheduleWindow.objects.bulk_create(
        ScheduleWindow(
            schedule=schedule,
            weekday=weekday,
            start_minute=minutes_of(start),
            end_minute=minutes_of(end, end=True),
        )
        for weekday, start, end in windows
    )
    return schedule


def window(weekday: int, start: str, end: str) -> dict:
    """A window as the API writes it."""
    return {"weekday": weekday, "start": start, "end": end}
