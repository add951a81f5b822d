from datetime import datetime, timedelta

import factory

from apps.common import clock
from apps.identity.tests.factories import AdminFactory, TeacherFactory
from apps.scheduling.models import AvailabilitySlot, SlotStatus

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
