from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.models import PackageStatus
from apps.billing.tests.factories import PackageFactory
from apps.booking import errors
from apps.booking.models import Booking, BookingStatus
from apps.booking.services import (
    BOOKING_TRANSITIONS,
    booking_cancel,
    booking_confirm,
    booking_hold,
    booking_holds_expire,
    booking_lesson_create,
    booking_reschedule,
)
from apps.booking.tests.factories import BookingFactory, future_slot, make_confirmed, make_hold
from apps.common import clock as clock_module
from apps.common.errors import BusinessRuleViolation, Conflict, Forbidden, NotFound
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.lessons import errors as lesson_errors
from apps.lessons.errors import LessonAlreadyFinished
from apps.lessons.models import Lesson, LessonStatus
from apps.lessons.tests.factories import make_lesson
from apps.scheduling.models import SlotStatus

pytestmark = pytest.mark.django_db


def events(*, booking=None, event_type=None):
    qs = OutboxEvent.objects.order_by("occurred_at", "created_at")
    if booking is not None:
        qs = qs.filter(payload__booking_id=str(booking.pk))
    if event_type is not None:
        qs = qs.filter(event_type=event_type)
    return list(qs)


def audit_actions(booking):
    return sorted(AuditLog.objects.filter(entity_id=booking.pk).values_list("action", flat=True))


def counters(package):
    package.refresh_from_db()
    return package.lessons_left, package.lessons_reserved


# --- the state machine ---------------------------------------------------------------------------------


def test_transition_table_is_the_spec_machine():
    assert BOOKING_TRANSITIONS == {
        "hold": {"confirmed", "canceled", "expired"},
        "confirmed": {"canceled"},
        "canceled": set(),
        "expired": set(),
    }


# --- hold ------------------------------------------------------------------------------------------------


def test_hold_reserves_a_lesson_and_puts_the_slot_on_hold(student, slot, package):
    before = clock_module.now()
    booking = booking_hold(student=student, slot_id=slot.pk, package_id=package.pk)
    after = clock_module.now()

    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == BookingStatus.HOLD
    assert (booking.student_id, booking.teacher_id, booking.slot_id, booking.package_id) == (
        student.pk,
        slot.teacher_id,
        slot.pk,
        package.pk,
    )
    hold = timedelta(minutes=settings.BOOKING_HOLD_MINUTES)
    assert before + hold <= booking.hold_expires_at <= after + hold
    assert slot.status == SlotStatus.HOLD
    assert counters(package) == (10, 1)
    [event] = events(booking=booking)
    assert event.event_type == "booking.hold.created"
    assert event.aggregate_type == "booking"
    assert event.aggregate_id == booking.pk
    assert event.payload == {
        "booking_id": str(booking.pk),
        "slot_id": str(slot.pk),
        "student_id": str(student.pk),
        "teacher_id": str(slot.teacher_id),
        "package_id": str(package.pk),
        "start_at": slot.start_at.isoformat(),
        "end_at": slot.end_at.isoformat(),
        "status": "hold",
    }
    [log] = AuditLog.objects.filter(entity_id=booking.pk)
    assert (log.action, log.actor_id, log.entity_type) == ("booking.hold.create", student.pk, "booking")


@pytest.mark.parametrize("slot_status", [SlotStatus.HOLD, SlotStatus.BOOKED, SlotStatus.CANCELED])
def test_hold_refuses_a_slot_that_is_not_open(student, package, snapshot, slot_status):
    slot = future_slot(status=slot_status)
    before = snapshot(slot, package)
    with pytest.raises(errors.SlotNotAvailable):
        booking_hold(student=student, slot_id=slot.pk, package_id=package.pk)
    assert snapshot(slot, package) == before


def test_hold_refuses_a_started_slot(student, package, clock, snapshot):
    slot = future_slot(hours=1)
    clock.advance(hours=1, seconds=1)
    before = snapshot(slot, package)
    with pytest.raises(errors.SlotNotAvailable):
        booking_hold(student=student, slot_id=slot.pk, package_id=package.pk)
    assert snapshot(slot, package) == before


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"status": PackageStatus.EXPIRED}, errors.PackageNotUsable),
        ({"status": PackageStatus.CANCELED}, errors.PackageNotUsable),
        ({"lessons_left": 2, "lessons_reserved": 2}, errors.PackageExhausted),
        ({"lessons_left": 0, "lessons_reserved": 0}, errors.PackageExhausted),
    ],
)
def test_hold_refuses_an_unusable_package(student, slot, snapshot, change, error):
    package = PackageFactory(student=student, **change)
    before = snapshot(slot, package)
    with pytest.raises(error) as caught:
        booking_hold(student=student, slot_id=slot.pk, package_id=package.pk)
    assert isinstance(caught.value, BusinessRuleViolation)
    assert snapshot(slot, package) == before


def test_hold_refuses_a_package_past_its_expiry_even_if_still_active(student, slot, clock, snapshot):
    package = PackageFactory(student=student, expires_at=clock_module.now() + timedelta(hours=1))
    clock.advance(hours=1, seconds=1)
    before = snapshot(slot, package)
    with pytest.raises(errors.PackageNotUsable):
        booking_hold(student=student, slot_id=slot.pk, package_id=package.pk)
    assert snapshot(slot, package) == before


def test_hold_unknown_slot_or_package_is_not_found(student, slot, package, snapshot):
    import uuid

    before = snapshot(slot, package)
    with pytest.raises(errors.SlotNotFound) as caught:
        booking_hold(student=student, slot_id=uuid.uuid4(), package_id=package.pk)
    assert isinstance(caught.value, NotFound)
    with pytest.raises(errors.PackageNotFound):
        booking_hold(student=student, slot_id=slot.pk, package_id=uuid.uuid4())
    assert snapshot(slot, package) == before


def test_hold_with_someone_elses_package_is_forbidden(student, slot, snapshot):
    package = PackageFactory()
    before = snapshot(slot, package)
    with pytest.raises(errors.PackageNotOwned) as caught:
        booking_hold(student=student, slot_id=slot.pk, package_id=package.pk)
    assert isinstance(caught.value, Forbidden)
    assert snapshot(slot, package) == before


def test_hold_by_a_non_student_is_forbidden(slot):
    teacher = TeacherFactory()
    package = PackageFactory(student=teacher)
    with pytest.raises(errors.OnlyStudentsHold):
        booking_hold(student=teacher, slot_id=slot.pk, package_id=package.pk)
    assert Booking.objects.count() == 0


def test_hold_on_an_open_slot_that_already_has_an_active_booking_hits_the_constraint(student, package, snapshot):
    # Inconsistent data (slot says open, a hold exists): the partial unique index answers, as a 422.
    existing = BookingFactory(status=BookingStatus.HOLD)
    slot = existing.slot
    assert slot.status == SlotStatus.OPEN
    before = snapshot(slot, package)
    with pytest.raises(errors.SlotNotAvailable):
        booking_hold(student=student, slot_id=slot.pk, package_id=package.pk)
    assert snapshot(slot, package) == before


# --- confirm ---------------------------------------------------------------------------------------------


def test_confirm_spends_the_lesson_books_the_slot_and_schedules_the_lesson(student, slot, package):
    hold = make_hold(student=student, slot=slot, package=package)
    booking = booking_confirm(actor=student, booking_id=hold.pk)

    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED
    assert booking.confirmed_at is not None
    assert slot.status == SlotStatus.BOOKED
    assert counters(package) == (9, 0)
    lesson = Lesson.objects.get(booking=booking)
    assert (lesson.status, lesson.student_id, lesson.teacher_id) == ("scheduled", student.pk, slot.teacher_id)
    assert (lesson.scheduled_start_at, lesson.scheduled_end_at) == (slot.start_at, slot.end_at)
    types = [e.event_type for e in OutboxEvent.objects.order_by("occurred_at")]
    assert types == ["booking.hold.created", "lesson.created", "booking.confirmed"]
    confirmed = OutboxEvent.objects.get(event_type="booking.confirmed")
    assert confirmed.payload["status"] == "confirmed"
    assert confirmed.payload["booking_id"] == str(booking.pk)
    created = OutboxEvent.objects.get(event_type="lesson.created")
    assert created.aggregate_type == "lesson"
    assert created.payload == {
        "lesson_id": str(lesson.pk),
        "booking_id": str(booking.pk),
        "student_id": str(student.pk),
        "teacher_id": str(slot.teacher_id),
        "scheduled_start_at": slot.start_at.isoformat(),
        "scheduled_end_at": slot.end_at.isoformat(),
        "status": "scheduled",
    }
    assert audit_actions(booking) == ["booking.confirm", "booking.hold.create"]


@pytest.mark.parametrize("who", ["teacher", "admin"])
def test_confirm_by_the_teacher_or_an_admin(student, slot, package, who):
    hold = make_hold(student=student, slot=slot, package=package)
    actor = slot.teacher if who == "teacher" else AdminFactory()
    booking = booking_confirm(actor=actor, booking_id=hold.pk)
    assert booking.status == BookingStatus.CONFIRMED
    assert AuditLog.objects.get(action="booking.confirm").actor_id == actor.pk


@pytest.mark.parametrize("who", ["other_student", "other_teacher"])
def test_confirm_by_anyone_else_is_forbidden(student, slot, package, snapshot, who):
    hold = make_hold(student=student, slot=slot, package=package)
    actor = StudentFactory() if who == "other_student" else TeacherFactory()
    before = snapshot(hold, slot, package)
    with pytest.raises(errors.BookingAccessDenied):
        booking_confirm(actor=actor, booking_id=hold.pk)
    assert snapshot(hold, slot, package) == before


def test_confirm_twice_is_idempotent(student, slot, package, snapshot):
    booking = make_confirmed(student=student, slot=slot, package=package)
    before = snapshot(booking, slot, package)
    again = booking_confirm(actor=student, booking_id=booking.pk)
    assert again.pk == booking.pk
    assert again.status == BookingStatus.CONFIRMED
    assert snapshot(booking, slot, package) == before


@pytest.mark.parametrize("final_status", [BookingStatus.CANCELED, BookingStatus.EXPIRED])
def test_confirm_a_final_booking_is_a_conflict(snapshot, final_status):
    booking = BookingFactory(status=final_status)
    before = snapshot(booking, booking.slot, booking.package)
    with pytest.raises(errors.BookingStateConflict) as caught:
        booking_confirm(actor=booking.student, booking_id=booking.pk)
    assert isinstance(caught.value, Conflict)
    assert snapshot(booking, booking.slot, booking.package) == before


def test_confirm_a_stale_hold_expires_it_and_raises(student, slot, package, clock):
    hold = make_hold(student=student, slot=slot, package=package)
    clock.advance(minutes=settings.BOOKING_HOLD_MINUTES, seconds=1)

    with pytest.raises(errors.HoldExpired):
        booking_confirm(actor=student, booking_id=hold.pk)

    hold.refresh_from_db()
    slot.refresh_from_db()
    assert hold.status == BookingStatus.EXPIRED
    assert slot.status == SlotStatus.OPEN
    assert counters(package) == (10, 0)
    assert [e.event_type for e in events(booking=hold)] == ["booking.hold.created", "booking.hold.expired"]
    assert audit_actions(hold) == ["booking.hold.create", "booking.hold.expire"]
    assert Lesson.objects.count() == 0


@pytest.mark.parametrize("package_change", ["expired_status", "past_expires_at"])
def test_confirm_with_an_unusable_package_changes_nothing(student, slot, clock, snapshot, package_change):
    package = PackageFactory(student=student, expires_at=clock_module.now() + timedelta(minutes=5))
    hold = make_hold(student=student, slot=slot, package=package)
    if package_change == "expired_status":
        type(package).objects.filter(pk=package.pk).update(status=PackageStatus.EXPIRED)
    else:
        clock.advance(minutes=5, seconds=1)  # package past expires_at, hold (10 min) still live
    before = snapshot(hold, slot, package)
    with pytest.raises(errors.PackageNotUsable):
        booking_confirm(actor=student, booking_id=hold.pk)
    assert snapshot(hold, slot, package) == before


def test_confirm_unknown_booking_is_not_found(student):
    import uuid

    with pytest.raises(errors.BookingNotFound):
        booking_confirm(actor=student, booking_id=uuid.uuid4())


# --- cancel ------------------------------------------------------------------------------------------------


def test_cancel_a_hold_releases_the_reservation_and_reopens_the_slot(student, slot, package):
    hold = make_hold(student=student, slot=slot, package=package)
    booking = booking_cancel(actor=student, booking_id=hold.pk, reason="changed my mind")

    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == BookingStatus.CANCELED
    assert booking.canceled_at is not None
    assert booking.cancellation_reason == "changed my mind"
    assert booking.refund_returned is False
    assert slot.status == SlotStatus.OPEN
    assert counters(package) == (10, 0)
    canceled = events(booking=hold, event_type="booking.canceled")
    assert len(canceled) == 1
    assert canceled[0].payload["refund_returned"] is False
    assert canceled[0].payload["status"] == "canceled"
    assert not events(event_type="lesson.canceled")
    log = AuditLog.objects.get(action="booking.cancel")
    assert log.payload == {"previous_status": "hold", "refund_returned": False, "reason": "changed my mind"}


def test_student_cancel_outside_the_refund_window_returns_the_lesson(student, package, clock):
    window = settings.BOOKING_REFUND_WINDOW_HOURS
    slot = future_slot(hours=window + 2)
    booking = make_confirmed(student=student, slot=slot, package=package)
    assert counters(package) == (9, 0)
    clock.advance(minutes=119)  # start is window + 1 minute away

    booking = booking_cancel(actor=student, booking_id=booking.pk)

    slot.refresh_from_db()
    assert booking.refund_returned is True
    assert counters(package) == (10, 0)
    assert slot.status == SlotStatus.OPEN
    lesson = Lesson.objects.get(booking=booking)
    assert lesson.status == LessonStatus.CANCELED
    [canceled] = events(booking=booking, event_type="booking.canceled")
    assert canceled.payload["refund_returned"] is True
    [lesson_canceled] = events(event_type="lesson.canceled")
    assert lesson_canceled.payload["lesson_id"] == str(lesson.pk)
    assert lesson_canceled.payload["status"] == "canceled"


def test_student_cancel_inside_the_refund_window_spends_the_lesson(student, package, clock):
    window = settings.BOOKING_REFUND_WINDOW_HOURS
    slot = future_slot(hours=window + 2)
    booking = make_confirmed(student=student, slot=slot, package=package)
    clock.advance(hours=2, minutes=1)  # start is window - 1 minute away

    booking = booking_cancel(actor=student, booking_id=booking.pk)

    slot.refresh_from_db()
    assert booking.refund_returned is False
    assert counters(package) == (9, 0)
    assert slot.status == SlotStatus.OPEN  # not started yet: it reopens
    assert Lesson.objects.get(booking=booking).status == LessonStatus.CANCELED
    [canceled] = events(booking=booking, event_type="booking.canceled")
    assert canceled.payload["refund_returned"] is False


@pytest.mark.parametrize("who", ["teacher", "admin"])
def test_teacher_or_admin_cancel_always_refunds(student, package, clock, who):
    slot = future_slot(hours=3)
    booking = make_confirmed(student=student, slot=slot, package=package)
    actor = slot.teacher if who == "teacher" else AdminFactory()
    booking = booking_cancel(actor=actor, booking_id=booking.pk)
    assert booking.refund_returned is True
    assert counters(package) == (10, 0)


def test_cancel_after_the_slot_started_leaves_the_slot_booked(student, package, clock):
    slot = future_slot(hours=1)
    booking = make_confirmed(student=student, slot=slot, package=package)
    clock.advance(hours=1, minutes=5)
    booking = booking_cancel(actor=student, booking_id=booking.pk)
    slot.refresh_from_db()
    assert booking.status == BookingStatus.CANCELED
    assert booking.refund_returned is False
    assert slot.status == SlotStatus.BOOKED
    assert counters(package) == (9, 0)


def test_cancel_twice_returns_the_canceled_booking_unchanged(student, slot, package, snapshot):
    booking = make_confirmed(student=student, slot=slot, package=package)
    booking_cancel(actor=student, booking_id=booking.pk, reason="first")
    before = snapshot(booking, slot, package)
    again = booking_cancel(actor=student, booking_id=booking.pk, reason="second")
    assert again.cancellation_reason == "first"
    assert snapshot(booking, slot, package) == before


def test_cancel_an_expired_booking_is_a_conflict(snapshot):
    booking = BookingFactory(status=BookingStatus.EXPIRED)
    before = snapshot(booking)
    with pytest.raises(errors.BookingStateConflict):
        booking_cancel(actor=booking.student, booking_id=booking.pk)
    assert snapshot(booking) == before


def test_cancel_by_a_stranger_is_forbidden(student, slot, package, snapshot):
    booking = make_confirmed(student=student, slot=slot, package=package)
    before = snapshot(booking, slot, package)
    with pytest.raises(errors.BookingAccessDenied):
        booking_cancel(actor=StudentFactory(), booking_id=booking.pk)
    assert snapshot(booking, slot, package) == before


def test_cancel_a_booking_whose_lesson_is_completed_is_refused(student, slot, package, snapshot):
    booking = make_confirmed(student=student, slot=slot, package=package)
    Lesson.objects.filter(booking=booking).update(status=LessonStatus.COMPLETED)
    before = snapshot(booking, slot, package)
    with pytest.raises(LessonAlreadyFinished):
        booking_cancel(actor=slot.teacher, booking_id=booking.pk)
    assert snapshot(booking, slot, package) == before


# --- reschedule ----------------------------------------------------------------------------------------


def test_reschedule_moves_the_booking_in_one_step(student, package):
    old_slot = future_slot(hours=72)
    new_slot = future_slot(hours=96)
    old = make_confirmed(student=student, slot=old_slot, package=package)
    marker = OutboxEvent.objects.count()

    new = booking_reschedule(actor=student, booking_id=old.pk, new_slot_id=new_slot.pk)

    old.refresh_from_db()
    old_slot.refresh_from_db()
    new_slot.refresh_from_db()
    assert old.status == BookingStatus.CANCELED
    assert old.refund_returned is True
    assert new.status == BookingStatus.CONFIRMED
    assert new.rescheduled_from_booking_id == old.pk
    assert (new.slot_id, new.package_id, new.student_id, new.teacher_id) == (
        new_slot.pk,
        package.pk,
        student.pk,
        new_slot.teacher_id,
    )
    assert old_slot.status == SlotStatus.OPEN
    assert new_slot.status == SlotStatus.BOOKED
    assert counters(package) == (9, 0)  # refunded one, spent one
    assert Lesson.objects.get(booking=old).status == LessonStatus.CANCELED
    assert Lesson.objects.get(booking=new).status == LessonStatus.SCHEDULED
    new_events = list(OutboxEvent.objects.order_by("occurred_at")[marker:])
    assert sorted(e.event_type for e in new_events) == sorted(
        [
            "booking.canceled",
            "lesson.canceled",
            "booking.hold.created",
            "booking.confirmed",
            "lesson.created",
            "booking.rescheduled",
        ]
    )
    rescheduled = OutboxEvent.objects.get(event_type="booking.rescheduled")
    assert rescheduled.payload["booking_id"] == str(new.pk)
    assert rescheduled.payload["rescheduled_from_booking_id"] == str(old.pk)
    assert rescheduled.payload["slot_id"] == str(new_slot.pk)
    assert rescheduled.payload["status"] == "confirmed"
    assert audit_actions(new) == ["booking.confirm", "booking.hold.create", "booking.reschedule"]
    assert "booking.cancel" in audit_actions(old)


def test_late_reschedule_spends_the_old_lesson(student, package, clock):
    old_slot = future_slot(hours=5)
    new_slot = future_slot(hours=30)
    old = make_confirmed(student=student, slot=old_slot, package=package)
    booking_reschedule(actor=student, booking_id=old.pk, new_slot_id=new_slot.pk)
    old.refresh_from_db()
    assert old.refund_returned is False
    assert counters(package) == (8, 0)


def test_admin_reschedules_on_the_students_behalf_with_the_admin_refund_rule(student, package, clock):
    admin = AdminFactory()
    old_slot = future_slot(hours=5)  # inside the refund window: a student's reschedule would spend the lesson
    new_slot = future_slot(hours=30)
    old = make_confirmed(student=student, slot=old_slot, package=package)

    new = booking_reschedule(actor=admin, booking_id=old.pk, new_slot_id=new_slot.pk)

    old.refresh_from_db()
    assert old.refund_returned is True
    assert old.cancellation_reason == "Rescheduled by staff on the student's behalf."
    assert (new.student_id, new.package_id, new.status) == (student.pk, package.pk, BookingStatus.CONFIRMED)
    assert counters(package) == (9, 0)  # refunded one, spent one
    assert AuditLog.objects.get(entity_id=old.pk, action="booking.cancel").actor_id == admin.pk
    assert set(AuditLog.objects.filter(entity_id=new.pk).values_list("actor_id", flat=True)) == {admin.pk}
    assert booking_reschedule(actor=admin, booking_id=old.pk, new_slot_id=new_slot.pk) == new
    assert booking_reschedule(actor=student, booking_id=old.pk, new_slot_id=new_slot.pk) == new


def test_reschedule_twice_returns_the_same_successor(student, package, snapshot):
    old = make_confirmed(student=student, slot=future_slot(hours=72), package=package)
    new_slot = future_slot(hours=96)
    first = booking_reschedule(actor=student, booking_id=old.pk, new_slot_id=new_slot.pk)
    before = snapshot(first, old, package)
    second = booking_reschedule(actor=student, booking_id=old.pk, new_slot_id=future_slot(hours=120).pk)
    assert second.pk == first.pk
    assert snapshot(first, old, package) == before


@pytest.mark.parametrize("new_slot_status", [SlotStatus.HOLD, SlotStatus.BOOKED, SlotStatus.CANCELED])
def test_reschedule_to_a_slot_that_is_not_open_changes_nothing(student, package, snapshot, new_slot_status):
    old_slot = future_slot(hours=72)
    old = make_confirmed(student=student, slot=old_slot, package=package)
    new_slot = future_slot(hours=96, status=new_slot_status)
    before = snapshot(old, old_slot, new_slot, package, Lesson.objects.get(booking=old))
    with pytest.raises(errors.SlotNotAvailable):
        booking_reschedule(actor=student, booking_id=old.pk, new_slot_id=new_slot.pk)
    assert snapshot(old, old_slot, new_slot, package, Lesson.objects.get(booking=old)) == before
    old.refresh_from_db()
    assert old.status == BookingStatus.CONFIRMED
    assert counters(package) == (9, 0)


def test_reschedule_with_no_lesson_left_changes_nothing(student, snapshot):
    package = PackageFactory(student=student, lessons_total=1, lessons_left=1)
    old_slot = future_slot(hours=5)  # inside the window: the old lesson is spent
    old = make_confirmed(student=student, slot=old_slot, package=package)
    new_slot = future_slot(hours=96)
    before = snapshot(old, old_slot, new_slot, package)
    with pytest.raises(errors.PackageExhausted):
        booking_reschedule(actor=student, booking_id=old.pk, new_slot_id=new_slot.pk)
    assert snapshot(old, old_slot, new_slot, package) == before


def test_reschedule_refusals(student, package, snapshot):
    import uuid

    confirmed = make_confirmed(student=student, slot=future_slot(hours=72), package=package)
    hold = make_hold(student=student, slot=future_slot(hours=80), package=package)
    canceled = BookingFactory(student=student, package=package, status=BookingStatus.CANCELED)
    expired = BookingFactory(student=student, package=package, status=BookingStatus.EXPIRED)
    new_slot = future_slot(hours=96)
    before = snapshot(confirmed, hold, package, new_slot)

    for actor in (confirmed.slot.teacher, StudentFactory()):
        with pytest.raises(errors.RescheduleAccessDenied):
            booking_reschedule(actor=actor, booking_id=confirmed.pk, new_slot_id=new_slot.pk)
    with pytest.raises(errors.BookingNotConfirmed):
        booking_reschedule(actor=student, booking_id=hold.pk, new_slot_id=new_slot.pk)
    for final in (canceled, expired):
        with pytest.raises(errors.BookingStateConflict):
            booking_reschedule(actor=student, booking_id=final.pk, new_slot_id=new_slot.pk)
    with pytest.raises(errors.SameSlotReschedule):
        booking_reschedule(actor=student, booking_id=confirmed.pk, new_slot_id=confirmed.slot_id)
    with pytest.raises(errors.SlotNotFound):
        booking_reschedule(actor=student, booking_id=confirmed.pk, new_slot_id=uuid.uuid4())
    with pytest.raises(errors.BookingNotFound):
        booking_reschedule(actor=student, booking_id=uuid.uuid4(), new_slot_id=new_slot.pk)

    assert snapshot(confirmed, hold, package, new_slot) == before


# --- holds expiry ------------------------------------------------------------------------------------------


def test_holds_expire_expires_only_stale_holds(student, package, clock):
    stale = [make_hold(student=student, package=package) for _ in range(3)]
    confirmed = make_confirmed(student=student, package=package)
    clock.advance(minutes=settings.BOOKING_HOLD_MINUTES - 1)
    fresh = make_hold(student=student, package=package)
    clock.advance(minutes=1)
    assert counters(package) == (9, 4)

    assert booking_holds_expire() == 3

    for booking in stale:
        booking.refresh_from_db()
        booking.slot.refresh_from_db()
        assert booking.status == BookingStatus.EXPIRED
        assert booking.slot.status == SlotStatus.OPEN
        [event] = events(booking=booking, event_type="booking.hold.expired")
        assert event.payload["status"] == "expired"
        log = AuditLog.objects.get(entity_id=booking.pk, action="booking.hold.expire")
        assert log.actor_id is None
    fresh.refresh_from_db()
    confirmed.refresh_from_db()
    assert fresh.status == BookingStatus.HOLD
    assert confirmed.status == BookingStatus.CONFIRMED
    assert counters(package) == (9, 1)
    assert booking_holds_expire() == 0
    assert OutboxEvent.objects.filter(event_type="booking.hold.expired").count() == 3


# --- the admin lesson repair (POST /api/v1/lessons) ---------------------------------------------


def test_lesson_repair_for_a_confirmed_booking_without_lesson(snapshot):
    admin = AdminFactory()
    booking = BookingFactory(status=BookingStatus.CONFIRMED)
    lesson = booking_lesson_create(actor=admin, booking_id=booking.pk, topic="Scales", notes=None)
    lesson.refresh_from_db()
    assert (lesson.booking_id, lesson.student_id, lesson.teacher_id) == (
        booking.pk,
        booking.student_id,
        booking.teacher_id,
    )
    assert (lesson.scheduled_start_at, lesson.scheduled_end_at) == (booking.slot.start_at, booking.slot.end_at)
    assert (lesson.status, lesson.topic) == ("scheduled", "Scales")
    event = OutboxEvent.objects.get(event_type="lesson.created")
    assert event.aggregate_id == lesson.pk
    assert event.payload["booking_id"] == str(booking.pk)
    log = AuditLog.objects.get(action="lessons.lesson.create")
    assert (log.actor_id, log.entity_id) == (admin.pk, lesson.pk)


def test_lesson_repair_refusals_change_nothing(snapshot):
    import uuid

    admin = AdminFactory()
    hold = BookingFactory(status=BookingStatus.HOLD)
    with_lesson = make_lesson()
    before = snapshot(hold)
    with pytest.raises(lesson_errors.LessonBookingNotFound):
        booking_lesson_create(actor=admin, booking_id=uuid.uuid4())
    with pytest.raises(lesson_errors.BookingNotConfirmedForLesson):
        booking_lesson_create(actor=admin, booking_id=hold.pk)
    with pytest.raises(lesson_errors.LessonAlreadyExists):
        booking_lesson_create(actor=admin, booking_id=with_lesson.booking_id)
    with pytest.raises(lesson_errors.LessonCreateDenied):
        booking_lesson_create(actor=TeacherFactory(), booking_id=hold.pk)
    assert snapshot(hold) == before


def test_lesson_repair_race_lost_at_the_unique_constraint_is_409():
    admin = AdminFactory()
    lesson = make_lesson()
    before = (Lesson.objects.count(), OutboxEvent.objects.count(), AuditLog.objects.count())
    # Pretend the existence check ran before a concurrent request inserted the lesson:
    # the unique constraint on lessons.booking_id is what refuses the second one.
    with mock.patch("apps.booking.services.lesson_exists_for_booking", return_value=False):
        with pytest.raises(lesson_errors.LessonAlreadyExists):
            booking_lesson_create(actor=admin, booking_id=lesson.booking_id)
    assert (Lesson.objects.count(), OutboxEvent.objects.count(), AuditLog.objects.count()) == before
