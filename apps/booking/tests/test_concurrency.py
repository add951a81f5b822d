"""Races on real PostgreSQL with real threads: the row locks and constraints must hold."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection

from apps.audit.models import OutboxEvent
from apps.billing.models import LessonPackage
from apps.billing.tests.factories import PackageFactory
from apps.booking.errors import PackageExhausted
from apps.booking.models import Booking, BookingStatus
from apps.booking.services import booking_hold, booking_holds_expire
from apps.booking.tests.factories import future_slot, make_hold
from apps.common import clock as clock_module
from apps.identity.tests.factories import StudentFactory
from apps.lessons.models import Lesson, LessonStatus
from apps.scheduling.models import AvailabilitySlot, SlotStatus

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and SKIP LOCKED need PostgreSQL")


def run_at_once(*callables):
    """Start every callable on its own thread at the same moment; return their results (or exceptions)."""
    barrier = threading.Barrier(len(callables))
    results: list = [None] * len(callables)

    def worker(index, fn):
        try:
            barrier.wait(timeout=30)
            results[index] = fn()
        except BaseException as exc:  # the test inspects it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(callables)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def test_twenty_students_hold_one_slot_exactly_one_wins(client_for):
    slot = future_slot(hours=48)
    students = [StudentFactory() for _ in range(20)]
    packages = [PackageFactory(student=student) for student in students]
    clients = [client_for(student) for student in students]

    def hold(client, package):
        return lambda: (
            client.post("/api/v1/booking/hold", {"slot_id": str(slot.pk), "package_id": str(package.pk)}).status_code
        )

    statuses = run_at_once(*(hold(c, p) for c, p in zip(clients, packages, strict=True)))

    assert Counter(statuses) == {201: 1, 422: 19}, statuses
    assert Booking.objects.filter(slot=slot, status__in=["hold", "confirmed"]).count() == 1
    assert Booking.objects.count() == 1
    slot.refresh_from_db()
    assert slot.status == SlotStatus.HOLD
    assert sorted(LessonPackage.objects.values_list("lessons_reserved", flat=True)) == [0] * 19 + [1]
    assert OutboxEvent.objects.filter(event_type="booking.hold.created").count() == 1


def test_one_package_of_three_lessons_six_holds_at_once():
    student = StudentFactory()
    package = PackageFactory(student=student, lessons_total=3, lessons_left=3)
    slots = [future_slot(hours=48 + i) for i in range(6)]

    def hold(slot):
        return lambda: booking_hold(student=student, slot_id=slot.pk, package_id=package.pk)

    results = run_at_once(*(hold(slot) for slot in slots))

    won = [r for r in results if isinstance(r, Booking)]
    lost = [r for r in results if not isinstance(r, Booking)]
    assert len(won) == 3, results
    assert all(isinstance(r, PackageExhausted) for r in lost), results
    package.refresh_from_db()
    assert (package.lessons_left, package.lessons_reserved) == (3, 3)
    assert Booking.objects.filter(status="hold").count() == 3
    assert AvailabilitySlot.objects.filter(status=SlotStatus.HOLD).count() == 3


def test_confirm_and_cancel_of_one_hold_race_to_a_consistent_end(client_for):
    rounds = 8
    student = StudentFactory()
    package = PackageFactory(student=student, lessons_total=rounds, lessons_left=rounds)
    outcomes = Counter()
    for i in range(rounds):
        slot = future_slot(hours=48 + 2 * i)
        hold = make_hold(student=student, slot=slot, package=package)
        student_client = client_for(student)
        teacher_client = client_for(slot.teacher)

        confirm_status, cancel_status = run_at_once(
            lambda c=student_client, b=hold: c.post(f"/api/v1/booking/{b.pk}/confirm").status_code,
            lambda c=teacher_client, b=hold: c.post(f"/api/v1/booking/{b.pk}/cancel").status_code,
        )

        assert cancel_status == 200
        assert confirm_status in (200, 409)
        hold.refresh_from_db()
        slot.refresh_from_db()
        assert hold.status == BookingStatus.CANCELED
        assert slot.status == SlotStatus.OPEN
        lessons = list(Lesson.objects.filter(booking=hold))
        if confirm_status == 200:
            # Confirmed first, then canceled by the teacher: lesson canceled, lesson refunded.
            assert hold.refund_returned is True
            assert [lesson.status for lesson in lessons] == [LessonStatus.CANCELED]
        else:
            assert hold.refund_returned is False
            assert lessons == []
        outcomes[confirm_status] += 1
        package.refresh_from_db()
        assert (package.lessons_left, package.lessons_reserved) == (rounds, 0)
    assert sum(outcomes.values()) == rounds


def test_two_expiry_sweeps_at_once_expire_each_hold_once():
    packages = [PackageFactory(lessons_total=10, lessons_left=10) for _ in range(3)]
    holds = [make_hold(package=packages[i % 3]) for i in range(30)]
    Booking.objects.filter(pk__in=[h.pk for h in holds]).update(
        hold_expires_at=clock_module.now() - timedelta(minutes=1)
    )

    first, second = run_at_once(booking_holds_expire, booking_holds_expire)

    assert isinstance(first, int) and isinstance(second, int), (first, second)
    assert first + second == 30
    assert Booking.objects.filter(status=BookingStatus.EXPIRED).count() == 30
    assert AvailabilitySlot.objects.filter(status=SlotStatus.OPEN).count() == 30
    per_booking = Counter(
        OutboxEvent.objects.filter(event_type="booking.hold.expired").values_list("aggregate_id", flat=True)
    )
    assert per_booking == {h.pk: 1 for h in holds}
    for package in packages:
        package.refresh_from_db()
        assert (package.lessons_left, package.lessons_reserved) == (10, 0)
    assert booking_holds_expire() == 0
