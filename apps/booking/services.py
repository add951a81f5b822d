"""Every write on bookings, and the booking state machine.

A booking is born as a `hold` on an open slot, paid from a package that
reserves one lesson for it; the hold becomes `confirmed` (the lesson is spent,
the slot booked, a lesson scheduled), or ends `canceled` or `expired`.

Concurrency: each service runs in one transaction (`recorded_atomic()`: its
audit and outbox rows are written in one statement at its end) with a bounded
lock wait and locks rows in the global order slot -> package -> booking ->
lesson. A booking's slot and package never change, so services first read the
booking unlocked to learn them, then lock slot, package and booking, and only
then look at the booking's state. The partial unique constraint
`bookings_one_active_per_slot` is the database's last word on double holds.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError

from apps.audit.services import audit_log_record, outbox_event_add, recorded_atomic
from apps.billing.models import LessonPackage
from apps.billing.services import (
    package_consume_lesson,
    package_is_usable,
    package_lock,
    package_refund_lesson,
    package_release_lesson,
    package_reserve_lesson,
)
from apps.booking.errors import (
    BookingAccessDenied,
    BookingNotConfirmed,
    BookingNotFound,
    BookingStateConflict,
    HoldExpired,
    OnlyStudentsHold,
    PackageExhausted,
    PackageNotFound,
    PackageNotOwned,
    PackageNotUsable,
    RescheduleAccessDenied,
    SameSlotReschedule,
    SlotNotAvailable,
    SlotNotFound,
)
from apps.booking.models import Booking, BookingStatus
from apps.booking.selectors import BOOKING_LISTS, booking_can_access, booking_lock, booking_successor
from apps.common import clock
from apps.common.page_cache import participant_scopes, scopes_changed
from apps.common.queries import one_or_none
from apps.lessons.errors import (
    BookingNotConfirmedForLesson,
    LessonAlreadyExists,
    LessonBookingNotFound,
    LessonCreateDenied,
)
from apps.lessons.models import Lesson
from apps.lessons.selectors import lesson_exists_for_booking
from apps.lessons.services import lesson_cancel_for_booking, lesson_create_for_booking
from apps.scheduling.models import AvailabilitySlot, SlotStatus
from apps.scheduling.services import slot_lock, slot_set_status

# The booking state machine: from -> allowed targets. `canceled` and `expired` are final.
BOOKING_TRANSITIONS: dict[str, frozenset[str]] = {
    BookingStatus.HOLD: frozenset({BookingStatus.CONFIRMED, BookingStatus.CANCELED, BookingStatus.EXPIRED}),
    BookingStatus.CONFIRMED: frozenset({BookingStatus.CANCELED}),
    BookingStatus.CANCELED: frozenset(),
    BookingStatus.EXPIRED: frozenset(),
}

RESCHEDULE_CANCELLATION_REASON = "Rescheduled by the student."


# --- helpers -------------------------------------------------------------------------------------


def booking_lists_changed(*, student_id, teacher_id) -> None:
    """Call in any transaction that writes a booking row: its student's, its teacher's and the admins'
    cached booking lists are recomputed after the commit (apps/common/page_cache.py)."""
    scopes_changed(*participant_scopes(BOOKING_LISTS, student_id=student_id, teacher_id=teacher_id))


def booking_event_payload(booking: Booking, slot: AvailabilitySlot) -> dict[str, Any]:
    """The outbox payload contract for aggregate_type "booking"."""
    return {
        "booking_id": str(booking.pk),
        "slot_id": str(booking.slot_id),
        "student_id": str(booking.student_id),
        "teacher_id": str(booking.teacher_id),
        "package_id": str(booking.package_id),
        "start_at": slot.start_at.isoformat(),
        "end_at": slot.end_at.isoformat(),
        "status": booking.status,
    }


def _booking_event(booking: Booking, slot: AvailabilitySlot, event_type: str, **extra: Any) -> None:
    outbox_event_add(
        aggregate_type="booking",
        aggregate_id=booking.pk,
        event_type=event_type,
        payload={**booking_event_payload(booking, slot), **extra},
    )


def _booking_audit(actor, booking: Booking, action: str, **payload: Any) -> None:
    audit_log_record(actor=actor, action=action, entity_type="booking", entity_id=booking.pk, payload=payload)


def _booking_move(booking: Booking, target: str, **fields: Any) -> None:
    """Apply one move of the state machine; an illegal move is a programming error.

    Every change of an existing booking goes through here (and every new one
    through `_hold_locked`), so this is where the cached booking lists of its
    student, its teacher and the admins are invalidated (at commit).
    """
    if target not in BOOKING_TRANSITIONS[booking.status]:
        raise ValueError(f"booking cannot move {booking.status} -> {target}")
    booking.status = target
    for name, value in fields.items():
        setattr(booking, name, value)
    booking.save(update_fields=["status", *fields, "updated_at"])
    booking_lists_changed(student_id=booking.student_id, teacher_id=booking.teacher_id)


def _lesson_for(booking: Booking, slot: AvailabilitySlot, **text: str | None) -> Lesson:
    """The scheduled lesson of a booking being confirmed (lessons get plain values, never the booking)."""
    return lesson_create_for_booking(
        booking_id=booking.pk,
        student_id=booking.student_id,
        teacher_id=booking.teacher_id,
        start_at=slot.start_at,
        end_at=slot.end_at,
        **text,
    )


def _hold_is_stale(booking: Booking, now: datetime) -> bool:
    return booking.hold_expires_at is not None and booking.hold_expires_at <= now


def _booking_read(booking_id) -> Booking:
    """Unlocked read to learn the booking's slot, package and people (these never change)."""
    booking = one_or_none(Booking.objects.filter(pk=booking_id))
    if booking is None:
        raise BookingNotFound()
    return booking


def _lock_booking_rows(booking: Booking) -> tuple[Booking, AvailabilitySlot, LessonPackage]:
    """Lock slot, package, then the booking itself (global order); return fresh locked rows."""
    slot = slot_lock(slot_id=booking.slot_id)
    package = package_lock(package_id=booking.package_id)
    locked = booking_lock(booking_id=booking.pk)
    locked.slot = slot
    locked.package = package
    return locked, slot, package


# --- steps (run inside a transaction that holds slot, package and booking locks) ---------------------


def _hold_locked(
    *, student, slot: AvailabilitySlot, package: LessonPackage, rescheduled_from: Booking | None = None
) -> Booking:
    """Check the domain rules and create a hold on a locked slot paid by a locked package."""
    now = clock.now()
    if slot.status != SlotStatus.OPEN or slot.start_at <= now:
        raise SlotNotAvailable()
    if not package_is_usable(package=package):
        raise PackageNotUsable()
    if package.lessons_left - package.lessons_reserved <= 0:
        raise PackageExhausted()
    try:
        # No savepoint: if the constraint refuses the row, the whole transaction is rolled back anyway.
        booking = Booking.objects.create(
            slot=slot,
            student=student,
            teacher_id=slot.teacher_id,
            package=package,
            status=BookingStatus.HOLD,
            hold_expires_at=now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES),
            rescheduled_from_booking=rescheduled_from,
        )
    except IntegrityError:
        # bookings_one_active_per_slot: someone holds this slot already.
        raise SlotNotAvailable()
    booking_lists_changed(student_id=booking.student_id, teacher_id=booking.teacher_id)
    slot_set_status(slot=slot, status=SlotStatus.HOLD)
    package_reserve_lesson(package=package)
    _booking_event(booking, slot, "booking.hold.created")
    _booking_audit(student, booking, "booking.hold.create", slot_id=str(slot.pk), package_id=str(package.pk))
    return booking


def _confirm_locked(*, actor, booking: Booking, slot: AvailabilitySlot, package: LessonPackage) -> Booking:
    """Turn a live hold into a confirmed booking with its scheduled lesson."""
    now = clock.now()
    if not package_is_usable(package=package):
        raise PackageNotUsable()
    package_consume_lesson(package=package)
    _booking_move(booking, BookingStatus.CONFIRMED, confirmed_at=now)
    slot_set_status(slot=slot, status=SlotStatus.BOOKED)
    booking.slot = slot
    lesson = _lesson_for(booking, slot)
    _booking_event(booking, slot, "booking.confirmed")
    _booking_audit(actor, booking, "booking.confirm", lesson_id=str(lesson.pk))
    return booking


def _expire_locked(*, actor, booking: Booking, slot: AvailabilitySlot, package: LessonPackage) -> None:
    """A stale hold: expired, slot open again, reserved lesson back to the package."""
    package_release_lesson(package=package)
    _booking_move(booking, BookingStatus.EXPIRED)
    if slot.status == SlotStatus.HOLD:
        slot_set_status(slot=slot, status=SlotStatus.OPEN)
    _booking_event(booking, slot, "booking.hold.expired")
    _booking_audit(actor, booking, "booking.hold.expire", hold_expires_at=booking.hold_expires_at.isoformat())


def _refund_is_due(*, actor, booking: Booking, slot: AvailabilitySlot, now: datetime) -> bool:
    """Teacher or admin cancels: always; the student: only outside the refund window."""
    if actor.is_admin or actor.pk == booking.teacher_id:
        return True
    return slot.start_at - now > timedelta(hours=settings.BOOKING_REFUND_WINDOW_HOURS)


def _cancel_locked(
    *, actor, booking: Booking, slot: AvailabilitySlot, package: LessonPackage, reason: str | None
) -> Booking:
    """Cancel a hold or a confirmed booking (see booking_cancel for the rules)."""
    now = clock.now()
    previous = booking.status
    refund_returned = False
    if previous == BookingStatus.HOLD:
        package_release_lesson(package=package)
    else:
        refund_returned = _refund_is_due(actor=actor, booking=booking, slot=slot, now=now)
        if refund_returned:
            package_refund_lesson(package=package)
    _booking_move(
        booking,
        BookingStatus.CANCELED,
        canceled_at=now,
        cancellation_reason=reason,
        refund_returned=refund_returned,
    )
    # A hold never used the slot: it always reopens (as on expiry). A booked
    # slot reopens only while it lies in the future; a started one stays booked.
    if slot.status == SlotStatus.HOLD or (slot.status == SlotStatus.BOOKED and slot.start_at > now):
        slot_set_status(slot=slot, status=SlotStatus.OPEN)
    _booking_event(booking, slot, "booking.canceled", refund_returned=refund_returned)
    if previous == BookingStatus.CONFIRMED:
        lesson_cancel_for_booking(booking_id=booking.pk)
    _booking_audit(
        actor, booking, "booking.cancel", previous_status=previous, refund_returned=refund_returned, reason=reason
    )
    return booking


# --- services ------------------------------------------------------------------------------------------


def booking_hold(*, student, slot_id, package_id) -> Booking:
    """Hold an open future slot for BOOKING_HOLD_MINUTES, reserving one lesson of the student's package.

    404 unknown slot or package, 403 someone else's package, 422 slot not open
    or started, package not active/expired, or no free lesson. Two students
    racing for one slot serialize on the slot's row lock; the loser sees 422.
    """
    if not student.is_student:
        raise OnlyStudentsHold()
    with recorded_atomic():
        slot = slot_lock(slot_id=slot_id)
        if slot is None:
            raise SlotNotFound()
        package = package_lock(package_id=package_id)
        if package is None:
            raise PackageNotFound()
        if package.student_id != student.pk:
            raise PackageNotOwned()
        return _hold_locked(student=student, slot=slot, package=package)


def booking_confirm(*, actor, booking_id) -> Booking:
    """Confirm a hold: spend its lesson, book the slot, schedule the lesson.

    Already confirmed: returned unchanged. Canceled or expired: 409. A hold
    past hold_expires_at is expired and that is COMMITTED before HoldExpired
    (422) is raised. Package no longer usable: 422, nothing changes.
    """
    booking = _booking_read(booking_id)
    if not booking_can_access(user=actor, booking=booking):
        raise BookingAccessDenied()
    hold_expired = False
    with recorded_atomic():
        booking, slot, package = _lock_booking_rows(booking)
        if booking.status == BookingStatus.CONFIRMED:
            return booking
        if booking.status != BookingStatus.HOLD:
            raise BookingStateConflict(f"A {booking.status} booking cannot be confirmed.")
        if _hold_is_stale(booking, clock.now()):
            _expire_locked(actor=actor, booking=booking, slot=slot, package=package)
            hold_expired = True
        else:
            _confirm_locked(actor=actor, booking=booking, slot=slot, package=package)
    if hold_expired:
        # Raised only after the expiry committed: the refusal still records it.
        raise HoldExpired()
    return booking


def booking_cancel(*, actor, booking_id, reason: str | None = None) -> Booking:
    """Cancel a hold or a confirmed booking (student, teacher or admin).

    Already canceled: returned unchanged. Expired: 409. A hold gives its
    reserved lesson back. A confirmed booking's lesson goes back to the package
    (`refund_returned`) when the teacher or an admin cancels, or the student
    cancels more than BOOKING_REFUND_WINDOW_HOURS before the start; otherwise
    it is spent. Its lesson is canceled (422 if it is already completed or
    no-show). The slot reopens unless a booked slot has already started.
    """
    booking = _booking_read(booking_id)
    if not booking_can_access(user=actor, booking=booking):
        raise BookingAccessDenied()
    with recorded_atomic():
        booking, slot, package = _lock_booking_rows(booking)
        if booking.status == BookingStatus.CANCELED:
            return booking
        if booking.status == BookingStatus.EXPIRED:
            raise BookingStateConflict("An expired booking cannot be canceled.")
        return _cancel_locked(actor=actor, booking=booking, slot=slot, package=package, reason=reason)


def booking_reschedule(*, actor, booking_id, new_slot_id) -> Booking:
    """Move a confirmed booking to another open slot: cancel + hold + confirm in one transaction.

    The booking's student only (403). Hold: 422; canceled or expired: 409.
    Any failing step (new slot unknown 404, not open 422, package exhausted
    or expired 422...) rolls everything back. Asking again for a booking that
    was already rescheduled returns its successor.
    """
    booking = _booking_read(booking_id)
    if actor.pk != booking.student_id:
        raise RescheduleAccessDenied()
    try:
        new_slot_id = uuid.UUID(str(new_slot_id))
    except ValueError:
        raise SlotNotFound()
    successor = booking_successor(booking_id=booking.pk)
    if successor is not None:
        return successor
    with recorded_atomic():
        # Both slots first, in primary-key order, then package, then booking.
        slots = {slot_id: slot_lock(slot_id=slot_id) for slot_id in sorted({booking.slot_id, new_slot_id})}
        package = package_lock(package_id=booking.package_id)
        booking = booking_lock(booking_id=booking.pk)
        successor = booking_successor(booking_id=booking.pk)
        if successor is not None:
            return successor
        if booking.status in (BookingStatus.CANCELED, BookingStatus.EXPIRED):
            raise BookingStateConflict(f"A {booking.status} booking cannot be rescheduled.")
        if booking.status != BookingStatus.CONFIRMED:
            raise BookingNotConfirmed()
        new_slot = slots[new_slot_id]
        if new_slot is None:
            raise SlotNotFound()
        if new_slot.pk == booking.slot_id:
            raise SameSlotReschedule()
        old_slot = slots[booking.slot_id]
        booking.slot = old_slot
        _cancel_locked(
            actor=actor, booking=booking, slot=old_slot, package=package, reason=RESCHEDULE_CANCELLATION_REASON
        )
        new_booking = _hold_locked(student=actor, slot=new_slot, package=package, rescheduled_from=booking)
        _confirm_locked(actor=actor, booking=new_booking, slot=new_slot, package=package)
        _booking_event(new_booking, new_slot, "booking.rescheduled", rescheduled_from_booking_id=str(booking.pk))
        _booking_audit(
            actor,
            new_booking,
            "booking.reschedule",
            rescheduled_from_booking_id=str(booking.pk),
            old_slot_id=str(old_slot.pk),
            new_slot_id=str(new_slot.pk),
            refund_returned=booking.refund_returned,
        )
    return new_booking


def booking_holds_expire(*, actor=None) -> int:
    """Expire every hold past its hold_expires_at; return how many this call expired.

    One short transaction per hold, locking slot (skipping a slot another
    transaction holds, on PostgreSQL), package, booking, and re-checking the
    booking after locking, so it is safe beside the API and beside another
    copy of itself: every stale hold is expired exactly once.
    """
    now = clock.now()
    stale = list(
        Booking.objects.filter(status=BookingStatus.HOLD, hold_expires_at__lte=now)
        .order_by("hold_expires_at", "id")
        .values_list("id", "slot_id", "package_id")
    )
    expired = 0
    for booking_id, slot_id, package_id in stale:
        with recorded_atomic():
            slot = slot_lock(slot_id=slot_id, skip_locked=True)
            if slot is None:
                continue  # busy: a confirm/cancel or another sweep is on it
            package = package_lock(package_id=package_id)
            booking = booking_lock(booking_id=booking_id)
            if booking.status != BookingStatus.HOLD or not _hold_is_stale(booking, now):
                continue
            _expire_locked(actor=actor, booking=booking, slot=slot, package=package)
            expired += 1
    return expired


def booking_lesson_create(*, actor, booking_id, topic: str | None = None, notes: str | None = None) -> Lesson:
    """Admin repair tool (`POST /api/v1/lessons`): give a confirmed booking that has no lesson its lesson.

    403 not an admin, 404 unknown booking, 422 not confirmed, 409 it already
    has one (also when a concurrent request wins the race to the unique
    constraint). Locks slot -> booking, then creates the lesson for the slot's times.
    """
    if not actor.is_admin:
        raise LessonCreateDenied()
    booking = one_or_none(Booking.objects.filter(pk=booking_id))
    if booking is None:
        raise LessonBookingNotFound()
    with recorded_atomic():
        slot = slot_lock(slot_id=booking.slot_id)
        booking = booking_lock(booking_id=booking.pk)
        if booking.status != BookingStatus.CONFIRMED:
            raise BookingNotConfirmedForLesson()
        if lesson_exists_for_booking(booking_id=booking.pk):
            raise LessonAlreadyExists()
        try:
            lesson = _lesson_for(booking, slot, topic=topic, notes=notes)
        except IntegrityError:  # lost the race to the unique constraint: the whole transaction rolls back
            raise LessonAlreadyExists()
        audit_log_record(
            actor=actor,
            action="lessons.lesson.create",
            entity_type="lesson",
            entity_id=lesson.pk,
            payload={"booking_id": str(booking.pk), "topic": topic, "notes": notes},
        )
    return lesson
