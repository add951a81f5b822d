"""Booking test data: raw rows (BookingFactory) and service-made holds and bookings."""

from datetime import timedelta

import factory

from apps.billing.tests.factories import PackageFactory
from apps.booking.models import Booking, BookingStatus
from apps.booking.services import booking_confirm, booking_hold
from apps.common import clock
from apps.identity.tests.factories import StudentFactory
from apps.scheduling.tests.factories import SlotFactory


def future_slot(*, hours: float = 48, **kwargs):
    """An open one-hour slot starting `hours` from the (movable) clock; own teacher unless given."""
    start_at = clock.now() + timedelta(hours=hours)
    return SlotFactory(start_at=start_at, end_at=start_at + timedelta(hours=1), **kwargs)


class BookingFactory(factory.django.DjangoModelFactory):
    """A raw booking row with none of the service effects; for states tests need to set up by hand."""

    class Meta:
        model = Booking

    slot = factory.LazyFunction(future_slot)
    student = factory.SubFactory(StudentFactory)
    teacher = factory.LazyAttribute(lambda o: o.slot.teacher)
    package = factory.SubFactory(PackageFactory, student=factory.SelfAttribute("..student"))
    status = BookingStatus.HOLD
    hold_expires_at = factory.LazyFunction(lambda: clock.now() + timedelta(minutes=10))


def make_hold(*, student=None, slot=None, package=None) -> Booking:
    """A hold made by the real service (slot in hold, one lesson reserved)."""
    student = student or (package.student if package else StudentFactory())
    slot = slot or future_slot()
    package = package or PackageFactory(student=student)
    return booking_hold(student=student, slot_id=slot.pk, package_id=package.pk)


def make_confirmed(*, student=None, slot=None, package=None) -> Booking:
    """A confirmed booking made by the real services (with its scheduled lesson)."""
    booking = make_hold(student=student, slot=slot, package=package)
    return booking_confirm(actor=booking.student, booking_id=booking.pk)
