"""A small school with every status of every counted table, built straight with the ORM.

The numbers the KPI and ops tests expect are written next to the rows that make them.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.audit.models import OutboxEvent
from apps.audit.tests.factories import OutboxEventFactory
from apps.billing.models import PackageStatus, PaymentStatus
from apps.billing.tests.factories import PackageFactory, PaymentFactory
from apps.booking.models import Booking, BookingStatus
from apps.common import clock
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.lessons.models import Lesson, LessonStatus
from apps.notifications.models import Notification, NotificationStatus
from apps.scheduling.models import SlotStatus
from apps.scheduling.tests.factories import SlotFactory


@dataclass
class School:
    stale_hold: Booking
    fresh_hold: Booking


@pytest.fixture
def school(admin_user) -> School:
    now = clock.now()
    # users: 2 admins (admin_user + one), 3 students (one inactive), 2 teachers -> 7
    AdminFactory()
    s1, s2 = StudentFactory(), StudentFactory()
    StudentFactory(is_active=False)
    t1, t2 = TeacherFactory(), TeacherFactory()

    # packages: active 3 (one past expires_at = overdue), expired 1, canceled 1 -> 5
    p1 = PackageFactory(student=s1, expires_at=now + timedelta(days=30))
    p2 = PackageFactory(student=s2, expires_at=now + timedelta(days=30))
    PackageFactory(student=s2, expires_at=now - timedelta(hours=1))  # overdue active
    PackageFactory(student=s1, status=PackageStatus.EXPIRED, expires_at=now - timedelta(days=1))
    PackageFactory(student=s2, status=PackageStatus.CANCELED, expires_at=now - timedelta(hours=1))

    def booking(status, slot_status, student, package, teacher, **fields):
        slot = SlotFactory(teacher=teacher, created_by_admin=admin_user, status=slot_status)
        return Booking.objects.create(
            slot=slot, student=student, teacher=teacher, package=package, status=status, **fields
        )

    def lesson(of, status):
        return Lesson.objects.create(
            booking=of,
            student=of.student,
            teacher=of.teacher,
            scheduled_start_at=of.slot.start_at,
            scheduled_end_at=of.slot.end_at,
            status=status,
        )

    # bookings: hold 2 (one stale), confirmed 4, canceled 1, expired 1 -> 8
    stale_hold = booking(BookingStatus.HOLD, SlotStatus.HOLD, s1, p1, t1, hold_expires_at=now - timedelta(minutes=1))
    fresh_hold = booking(BookingStatus.HOLD, SlotStatus.HOLD, s2, p2, t2, hold_expires_at=now + timedelta(minutes=10))
    confirmed = [
        booking(BookingStatus.CONFIRMED, SlotStatus.BOOKED, s1, p1, t1, confirmed_at=now) for _ in range(2)
    ] + [booking(BookingStatus.CONFIRMED, SlotStatus.BOOKED, s2, p2, t2, confirmed_at=now) for _ in range(2)]
    canceled = booking(BookingStatus.CANCELED, SlotStatus.OPEN, s1, p1, t2, canceled_at=now)
    # An expired hold long past its deadline is not a stale hold: the expiry already ran.
    booking(BookingStatus.EXPIRED, SlotStatus.OPEN, s2, p2, t1, hold_expires_at=now - timedelta(hours=2))

    # lessons: scheduled 1, completed 2, canceled 1, no_show 1 -> 5
    lesson(confirmed[0], LessonStatus.SCHEDULED)
    lesson(confirmed[1], LessonStatus.COMPLETED)
    lesson(confirmed[2], LessonStatus.COMPLETED)
    lesson(confirmed[3], LessonStatus.NO_SHOW)
    lesson(canceled, LessonStatus.CANCELED)

    # payments: pending 1, succeeded 2, failed 1, refunded 1 -> 5
    # received = 49.90 + 10.05 + 20.10 = 80.05 (a float sum would give 80.05000000000001)
    PaymentFactory(package=p1, amount=Decimal("1000.00"), status=PaymentStatus.PENDING)
    PaymentFactory(package=p1, amount=Decimal("49.90"), status=PaymentStatus.SUCCEEDED, paid_at=now)
    PaymentFactory(package=p2, amount=Decimal("10.05"), status=PaymentStatus.SUCCEEDED, paid_at=now)
    PaymentFactory(package=p2, amount=Decimal("99.99"), status=PaymentStatus.FAILED)
    PaymentFactory(package=p1, amount=Decimal("20.10"), status=PaymentStatus.REFUNDED, paid_at=now)

    # outbox: pending 2, processed 1, failed with retries 1, 4 (retryable at 5) and 5, 7 (dead at 5)
    OutboxEventFactory.create_batch(2)
    OutboxEventFactory(status=OutboxEvent.Status.PROCESSED, processed_at=now)
    for retries in (1, 4, 5, 7):
        OutboxEventFactory(status=OutboxEvent.Status.FAILED, retries=retries, error_message="smtp down")

    # notifications: failed 2, pending 1, sent 1
    for status in (NotificationStatus.FAILED, NotificationStatus.FAILED, NotificationStatus.PENDING):
        Notification.objects.create(user=s1, title="t", body="b", status=status)
    Notification.objects.create(user=s2, title="t", body="b", status=NotificationStatus.SENT, sent_at=now)

    return School(stale_hold=stale_hold, fresh_hold=fresh_hold)
