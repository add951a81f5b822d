"""Races on real PostgreSQL with real threads: the row locks and constraints must hold."""

import threading
import time
from collections import Counter
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.models import LessonPackage, PackageStatus
from apps.billing.tests.factories import PackageFactory
from apps.booking import services as booking_services
from apps.booking.errors import PackageExhausted
from apps.booking.models import Booking, BookingStatus
from apps.booking.services import booking_hold, booking_holds_expire
from apps.booking.tests.factories import future_slot, make_confirmed, make_hold
from apps.common import clock as clock_module
from apps.identity.tests.factories import AdminFactory, StudentFactory
from apps.lessons.models import Lesson, LessonStatus
from apps.scheduling.models import AvailabilitySlot, SlotStatus
from apps.teachers.tests.factories import TeacherProfileFactory
from tests.process_helpers import run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and SKIP LOCKED need PostgreSQL")


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


# --- cascades racing holds (SPEC §8.2-8.4) ------------------------------------------------------------


def _hold_call(client, slot, package, *, after_ms: float = 0):
    """A hold through HTTP, started `after_ms` after the barrier so the holds spread around the other call."""

    def call():
        time.sleep(after_ms / 1000)
        return client.post(
            "/api/v1/booking/hold", {"slot_id": str(slot.pk), "package_id": str(package.pk)}, format="json"
        )

    return call


@pytest.mark.parametrize("round_", range(3))
def test_holds_racing_a_teacher_disable_are_either_canceled_or_refused(client_for, round_):
    admin = AdminFactory()
    teacher = TeacherProfileFactory(is_approved=True).user
    students = [StudentFactory() for _ in range(10)]
    packages = [PackageFactory(student=student, lessons_total=3, lessons_left=3) for student in students]
    slots = [future_slot(hours=30 + 2 * i, teacher=teacher) for i in range(len(students))]
    confirmed = [
        make_confirmed(student=students[i], package=packages[i], slot=future_slot(hours=100 + 2 * i, teacher=teacher))
        for i in range(2)
    ]
    start = clock_module.now() + timedelta(days=20)
    admin_client = client_for(admin)
    calls = [
        _hold_call(client_for(s), slot, p, after_ms=40 * i)
        for i, (s, slot, p) in enumerate(zip(students, slots, packages, strict=True))
    ]
    # the disable lands somewhere among the holds, and so does an admin creating a slot for the teacher
    calls.insert(
        round_ * 4 + 1,
        lambda: admin_client.post(f"/api/v1/admin/teachers/{teacher.pk}/disable", {"reason": "Left."}, format="json"),
    )
    calls.insert(
        5,
        lambda: admin_client.post(
            "/api/v1/scheduling/slots",
            {
                "teacher_id": str(teacher.pk),
                "start_at": start.isoformat(),
                "end_at": (start + timedelta(hours=1)).isoformat(),
            },
            format="json",
        ),
    )

    responses = run_at_once(*calls)

    assert not [r for r in responses if isinstance(r, BaseException)], responses
    statuses = [r.status_code for r in responses]
    assert all(status < 500 for status in statuses), statuses
    disable = next(r for r in responses if r.request["PATH_INFO"].endswith("/disable"))
    created = next(r for r in responses if r.request["PATH_INFO"] == "/api/v1/scheduling/slots")
    holds = [r for r in responses if r.request["PATH_INFO"] == "/api/v1/booking/hold"]
    assert disable.status_code == 200, disable.content
    assert created.status_code == 201, created.content
    assert {r.status_code for r in holds} <= {201, 422}, [r.content for r in holds]
    won = [r.json()["id"] for r in holds if r.status_code == 201]
    # every hold that landed was canceled by the disable, with the confirmed bookings
    assert disable.json()["canceled_bookings"] == len(won) + len(confirmed)
    assert set(Booking.objects.filter(pk__in=won).values_list("status", flat=True)) <= {BookingStatus.CANCELED}
    live = Booking.objects.filter(
        teacher=teacher, status__in=[BookingStatus.HOLD, BookingStatus.CONFIRMED], slot__start_at__gt=clock_module.now()
    )
    assert not live.exists()
    for booking in confirmed:
        booking.refresh_from_db()
        assert (booking.status, booking.refund_returned) == (BookingStatus.CANCELED, True)
    for package in packages:
        package.refresh_from_db()
        assert (package.lessons_left, package.lessons_reserved) == (3, 0)
    assert set(AvailabilitySlot.objects.filter(pk__in=[s.pk for s in slots]).values_list("status", flat=True)) == {
        SlotStatus.CANCELED
    }
    # The admin's new slot: created before the disable (and canceled by it) or after it (and open).
    new_slot = AvailabilitySlot.objects.get(pk=created.json()["id"])
    disabled_at = AuditLog.objects.get(action="teachers.teacher.disable").created_at
    if new_slot.status == SlotStatus.OPEN:
        assert new_slot.created_at > disabled_at
    else:
        assert new_slot.status == SlotStatus.CANCELED
    assert OutboxEvent.objects.filter(event_type="booking.canceled").count() == len(won) + len(confirmed)


@pytest.mark.parametrize("round_", range(3))
def test_holds_racing_a_package_cancel_leave_consistent_counters(client_for, round_):
    admin = AdminFactory()
    student = StudentFactory()
    package = PackageFactory(student=student, lessons_total=10, lessons_left=10)
    upcoming = make_confirmed(student=student, package=package, slot=future_slot(hours=200))
    slots = [future_slot(hours=30 + 2 * i) for i in range(8)]
    student_client, admin_client = client_for(student), client_for(admin)
    calls = [_hold_call(student_client, slot, package, after_ms=40 * i) for i, slot in enumerate(slots)]
    calls.insert(
        round_ * 3,
        lambda: admin_client.post(f"/api/v1/billing/packages/{package.pk}/cancel", {"force": True}, format="json"),
    )

    responses = run_at_once(*calls)

    assert not [r for r in responses if isinstance(r, BaseException)], responses
    assert all(r.status_code < 500 for r in responses), [r.content for r in responses]
    cancel = next(r for r in responses if r.request["PATH_INFO"].endswith("/cancel"))
    holds = [r for r in responses if r.request["PATH_INFO"] == "/api/v1/booking/hold"]
    assert {r.status_code for r in holds} <= {201, 422}, [r.content for r in holds]
    package.refresh_from_db()
    active_holds = Booking.objects.filter(package=package, status=BookingStatus.HOLD).count()
    # the database invariant and the package's own bookkeeping agree, whatever the interleaving
    assert package.lessons_reserved == active_holds
    assert package.lessons_left == 10 - Booking.objects.filter(package=package, status=BookingStatus.CONFIRMED).count()
    if cancel.status_code == 200:
        assert package.status == PackageStatus.CANCELED
        assert active_holds == 0
        upcoming.refresh_from_db()
        assert (upcoming.status, upcoming.refund_returned) == (BookingStatus.CANCELED, True)
        assert (package.lessons_left, package.lessons_reserved) == (10, 0)
        won = [r.json()["id"] for r in holds if r.status_code == 201]
        assert set(Booking.objects.filter(pk__in=won).values_list("status", flat=True)) <= {BookingStatus.CANCELED}
    else:  # the bounded retries ran out: nothing of the cancel happened
        assert cancel.status_code == 409, cancel.content
        assert package.status == PackageStatus.ACTIVE
        assert not AuditLog.objects.filter(action="billing.package.cancel").exists()


def test_a_hold_racing_a_slot_cancel_is_canceled_or_refused(client_for):
    rounds = 8
    student = StudentFactory()
    package = PackageFactory(student=student, lessons_total=rounds, lessons_left=rounds)
    outcomes = Counter()
    for i in range(rounds):
        slot = future_slot(hours=48 + 2 * i)
        hold, cancel = run_at_once(
            _hold_call(client_for(student), slot, package, after_ms=3 * i),
            lambda s=slot: client_for(s.teacher).post(f"/api/v1/scheduling/slots/{s.pk}/cancel", format="json"),
        )
        assert cancel.status_code == 200, cancel.content
        assert hold.status_code in (201, 422), hold.content
        slot.refresh_from_db()
        assert slot.status == SlotStatus.CANCELED
        if hold.status_code == 201:
            assert Booking.objects.get(pk=hold.json()["id"]).status == BookingStatus.CANCELED
        assert not Booking.objects.filter(slot=slot, status__in=["hold", "confirmed"]).exists()
        package.refresh_from_db()
        assert (package.lessons_left, package.lessons_reserved) == (rounds, 0)
        outcomes[hold.status_code] += 1
    assert sum(outcomes.values()) == rounds


def test_package_cancel_starts_over_when_a_newcomers_slot_is_busy_and_never_deadlocks():
    admin = AdminFactory()
    package = PackageFactory(lessons_total=5, lessons_left=5)
    first = make_hold(package=package)
    late_slot = future_slot(hours=90)
    locked, release = threading.Event(), threading.Event()

    def hold_the_slot_lock():
        try:
            with transaction.atomic():
                AvailabilitySlot.objects.select_for_update().get(pk=late_slot.pk)
                locked.set()
                release.wait(timeout=0.5)  # busy for a moment (say, a confirm being refused), then gone
        finally:
            connection.close()

    real = booking_services._package_bookings_to_cancel
    reads = []

    def read_then_a_hold_lands_and_its_slot_is_busy(**kwargs):
        found = real(**kwargs)
        reads.append(len(found))
        if len(reads) == 1:
            make_hold(package=package, slot=late_slot)  # committed: it let go of its slot...
            threading.Thread(target=hold_the_slot_lock).start()  # ...which someone else takes
            assert locked.wait(timeout=10)
        return found

    with mock.patch.object(
        booking_services, "_package_bookings_to_cancel", side_effect=read_then_a_hold_lands_and_its_slot_is_busy
    ):
        canceled = booking_services.package_cancel(actor=admin, package_id=package.pk)

    # attempt 1: the newcomer's slot was busy (NOWAIT refused) -> start over; attempt 2 took it in order
    assert reads == [1, 2, 2, 2]
    assert canceled.status == PackageStatus.CANCELED
    assert set(Booking.objects.filter(package=package).values_list("status", flat=True)) == {BookingStatus.CANCELED}
    package.refresh_from_db()
    assert (package.lessons_left, package.lessons_reserved) == (5, 0)
    assert AvailabilitySlot.objects.get(pk=first.slot_id).status == SlotStatus.OPEN
