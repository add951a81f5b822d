"""Lesson test data: a confirmed booking made by the real services carries its lesson."""

from datetime import timedelta

from apps.billing.tests.factories import PackageFactory
from apps.booking.models import Booking, BookingStatus
from apps.booking.tests.factories import make_confirmed
from apps.common import clock
from apps.identity.tests.factories import StudentFactory, TeacherFactory
from apps.lessons.models import Lesson
from apps.scheduling.models import AvailabilitySlot, SlotStatus

LESSON_SPACING = timedelta(minutes=10)


def make_lesson(**kwargs) -> Lesson:
    """The scheduled lesson of a freshly confirmed booking (kwargs go to make_confirmed)."""
    return Lesson.objects.get(booking=make_confirmed(**kwargs))


def bulk_scheduled_lessons(
    count: int,
    *,
    first_start_in: timedelta = timedelta(hours=1),
    length: timedelta = LESSON_SPACING,
    student=None,
    teacher=None,
) -> list[Lesson]:
    """`count` scheduled lessons as raw rows (slot booked, booking confirmed, lesson), a few INSERTs in all.

    For volume and query-count tests, where the services' effects do not matter. The lessons are
    `length` long (ten minutes) and back to back from `first_start_in` after the (movable) clock.
    """
    student = student or StudentFactory()
    teacher = teacher or TeacherFactory()
    package = PackageFactory(student=student, lessons_total=max(count, 1), lessons_left=0)
    first = clock.now() + first_start_in
    slots = AvailabilitySlot.objects.bulk_create(
        AvailabilitySlot(
            teacher=teacher,
            start_at=first + i * length,
            end_at=first + (i + 1) * length,
            status=SlotStatus.BOOKED,
        )
        for i in range(count)
    )
    bookings = Booking.objects.bulk_create(
        Booking(
            slot=slot,
            student=student,
            teacher=teacher,
            package=package,
            status=BookingStatus.CONFIRMED,
            confirmed_at=clock.now(),
        )
        for slot in slots
    )
    return Lesson.objects.bulk_create(
        Lesson(
            booking=booking,
            student=student,
            teacher=teacher,
            scheduled_start_at=slot.start_at,
            scheduled_end_at=slot.end_at,
        )
        for booking, slot in zip(bookings, slots, strict=True)
    )
