"""Every write on bookings, and the booking state machine.

A booking is born as a `hold` on an open slot, paid from a package that
reserves one lesson for it; the hold becomes `confirmed` (the lesson is spent,
the slot booked, a lesson scheduled), or ends `canceled` or `expired`.

The cascades that cancel bookings on someone's behalf live here too, since
only this app sees slots, packages and bookings together: a slot canceled
(`slot_cancel`), a teacher disabled (`teacher_disable`), a package canceled
(`package_cancel`). Each cancels the bookings it meets as a teacher/admin
cancel (the lesson goes back to the package) through the same step as
`booking_cancel`, so events, audit rows and counters are the same.

Concurrency: each service runs in one transaction (`recorded_atomic()`: its
audit and outbox rows are written in one statement at its end) with a bounded
lock wait, and locks rows in one global order:

    teacher's user row -> teacher profile -> slots -> packages -> bookings -> lesson

rows of one table in primary-key order (`lock_many`), every lock of a table
taken before any lock of the next. A booking's slot and package never change,
so services first read the booking unlocked to learn them, then lock slot,
package and booking, and only then look at the booking's state. Since every
booking write locks the booking's slot first, a service holding a slot's lock
may read that slot's bookings and trust them until it commits. The partial
unique constraint `bookings_one_active_per_slot` is the database's last word
on double holds.

- The teacher's user row (`identity.services.user_lock`, FOR NO KEY UPDATE)
  is taken by every writer that inserts slots for a teacher (`slot_create`,
  the schedule generator) and by `teacher_disable` before it lists the
  teacher's slots: no slot can appear behind the disable's back. FOR NO KEY
  UPDATE does not block the KEY SHARE locks that inserting bookings and slots
  take on the user row, so holds never wait on it.
- A hold racing a disable: either the hold locked the slot first and
  committed (the disable then finds and cancels it), or the disable locked the
  slot first (the hold then finds it `canceled`: 422).
- `package_cancel` must lock the slots of the package's bookings before the
  package, but learns which slots only by reading: it reads, locks those
  slots, locks the package and re-reads (no booking of the package can appear
  while the package is held). A hold that slipped in between has committed,
  so its slot is free: it is locked then, out of order but with NOWAIT. A
  lock that never waits cannot close a cycle, so this cannot deadlock; if
  that slot is busy at that instant, the transaction starts over (a bounded
  number of times, then 409).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError

from apps.audit.services import audit_log_record, outbox_event_add, recorded_atomic
from apps.billing.models import LessonPackage, PackageStatus
from apps.billing.services import (
    package_cancel_locked,
    package_consume_if_usable,
    package_consume_lesson,
    package_is_usable,
    package_lock,
    package_refund_lesson,
    package_release_lesson,
    package_reserve_if_free,
    package_reserve_lesson,
)
from apps.booking.errors import (
    BookingAccessDenied,
    BookingNotConfirmed,
    BookingNotFound,
    BookingStateConflict,
    HoldExpired,
    OnlyStudentsHold,
    PackageBusy,
    PackageExhausted,
    PackageHasUpcomingBookings,
    PackageNotCancelable,
    PackageNotFound,
    PackageNotOwned,
    PackageNotUsable,
    RescheduleAccessDenied,
    SameSlotReschedule,
    SlotCancelDenied,
    SlotNotAvailable,
    SlotNotFound,
    SlotStarted,
    TeacherNotFound,
)
from apps.booking.models import ACTIVE_BOOKING_STATUSES, Booking, BookingStatus
from apps.booking.selectors import (
    BOOKING_LISTS,
    booking_can_access,
    booking_lock,
    booking_successor,
    slot_lock_of_booking,
)
from apps.common import clock
from apps.common.locking import lock_many
from apps.common.page_cache import participant_scopes, scopes_changed
from apps.common.queries import one_or_none
from apps.common.sql import get_by_pk, insert, update_by_pk
from apps.identity.models import Role
from apps.identity.services import user_lock
from apps.lessons.errors import (
    BookingNotConfirmedForLesson,
    LessonAlreadyExists,
    LessonBookingNotFound,
    LessonCreateDenied,
)
from apps.lessons.models import Lesson
from apps.lessons.selectors import lesson_exists_for_booking
from apps.lessons.services import lesson_cancel_for_booking, lesson_create_for_booking
from apps.scheduling.errors import SlotsBusy
from apps.scheduling.models import AvailabilitySlot, SlotStatus
from apps.scheduling.services import (
    slot_cancel_locked,
    slot_lock,
    slot_set_status,
    slot_take_if_open,
    slots_cancel_locked,
    slots_lock,
    teacher_future_slots_lock,
)
from apps.teachers.services import teacher_profile_lock_for_user, teacher_profile_unapprove_locked

# The booking state machine: from -> allowed targets. `canceled` and `expired` are final.
BOOKING_TRANSITIONS: dict[str, frozenset[str]] = {
    BookingStatus.HOLD: frozenset({BookingStatus.CONFIRMED, BookingStatus.CANCELED, BookingStatus.EXPIRED}),
    BookingStatus.CONFIRMED: frozenset({BookingStatus.CANCELED}),
    BookingStatus.CANCELED: frozenset(),
    BookingStatus.EXPIRED: frozenset(),
}

RESCHEDULE_CANCELLATION_REASON = "Rescheduled by the student."
STAFF_RESCHEDULE_CANCELLATION_REASON = "Rescheduled by staff on the student's behalf."
SLOT_CANCELED_REASON = "The slot was canceled."
# package_cancel starts over when a booking of the package appears between its read and its locks.
PACKAGE_CANCEL_ATTEMPTS = 5


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
    booking.status, booking.updated_at = target, clock.now()
    for name, value in fields.items():
        setattr(booking, name, value)
    update_by_pk(Booking, booking.pk, status=target, updated_at=booking.updated_at, **fields)
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
    booking = get_by_pk(Booking, booking_id)
    if booking is None:
        raise BookingNotFound()
    return booking


# --- steps (run inside a transaction that holds slot, package and booking locks) ---------------------


def _hold_locked(
    *,
    actor,
    student_id,
    slot: AvailabilitySlot,
    package: LessonPackage,
    rescheduled_from: Booking | None = None,
) -> Booking:
    """Check the domain rules and create a hold for the student on a locked slot paid by a locked package."""
    now = clock.now()
    if slot.status != SlotStatus.OPEN or slot.start_at <= now:
        raise SlotNotAvailable()
    if not package_is_usable(package=package):
        raise PackageNotUsable()
    if package.lessons_left - package.lessons_reserved <= 0:
        raise PackageExhausted()
    try:
        # No savepoint: if the constraint refuses the row, the whole transaction is rolled back anyway.
        booking = insert(
            Booking(
                slot=slot,
                student_id=student_id,
                teacher_id=slot.teacher_id,
                package=package,
                status=BookingStatus.HOLD,
                hold_expires_at=now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES),
                rescheduled_from_booking=rescheduled_from,
            )
        )
    except IntegrityError:
        # bookings_one_active_per_slot: someone holds this slot already.
        raise SlotNotAvailable()
    booking_lists_changed(student_id=booking.student_id, teacher_id=booking.teacher_id)
    slot_set_status(slot=slot, status=SlotStatus.HOLD)
    package_reserve_lesson(package=package)
    _booking_event(booking, slot, "booking.hold.created")
    _booking_audit(actor, booking, "booking.hold.create", slot_id=str(slot.pk), package_id=str(package.pk))
    return booking


def _confirm_locked(*, actor, booking: Booking, slot: AvailabilitySlot, package: LessonPackage) -> Booking:
    """Turn a live hold into a confirmed booking with its scheduled lesson (package locked by the caller)."""
    now = clock.now()
    if not package_is_usable(package=package):
        raise PackageNotUsable()
    package_consume_lesson(package=package)
    return _confirm_steps(actor=actor, booking=booking, slot=slot, now=now)


def _confirm_steps(*, actor, booking: Booking, slot: AvailabilitySlot, now: datetime) -> Booking:
    """After the package spent its lesson: the booking confirmed, the slot booked, the lesson scheduled."""
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
    or started, package not active/expired, or no free lesson. Two statements
    do the work and take the locks, slot then package: the slot moves to `hold`
    only if it is open and not started, the package reserves a lesson only if it
    is the student's, usable and not exhausted. When either does not match,
    the refusal is worked out by reading (`_hold_refusal`) and the transaction
    rolls back. Two students racing for one slot serialize on the slot's row:
    the second UPDATE finds it no longer open, a 422.
    """
    if not student.is_student:
        raise OnlyStudentsHold()
    with recorded_atomic():
        now = clock.now()
        slot = slot_take_if_open(slot_id=slot_id, status=SlotStatus.HOLD, now=now)
        package = package_reserve_if_free(package_id=package_id, student_id=student.pk, now=now) if slot else None
        if package is None:
            raise _hold_refusal(student=student, slot_id=slot_id, package_id=package_id, slot_taken=slot is not None)
        try:
            booking = insert(
                Booking(
                    slot=slot,
                    student_id=student.pk,
                    teacher_id=slot.teacher_id,
                    package=package,
                    status=BookingStatus.HOLD,
                    hold_expires_at=now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES),
                )
            )
        except IntegrityError:  # bookings_one_active_per_slot: the database's last word on double holds
            raise SlotNotAvailable()
        booking_lists_changed(student_id=booking.student_id, teacher_id=booking.teacher_id)
        _booking_event(booking, slot, "booking.hold.created")
        _booking_audit(student, booking, "booking.hold.create", slot_id=str(slot.pk), package_id=str(package.pk))
        return booking


def _hold_refusal(*, student, slot_id, package_id, slot_taken: bool) -> Exception:
    """Why a hold could not take its slot or reserve its lesson, in the SPEC's order of checks.

    Unknown slot 404, unknown package 404, someone else's package 403, then the
    422s: slot not open or started, package not usable, no free lesson.
    """
    slot = None if slot_taken else get_by_pk(AvailabilitySlot, slot_id)
    if not slot_taken and slot is None:
        return SlotNotFound()
    package = get_by_pk(LessonPackage, package_id)
    if package is None:
        return PackageNotFound()
    if package.student_id != student.pk:
        return PackageNotOwned()
    if not slot_taken:
        return SlotNotAvailable()
    if not package_is_usable(package=package):
        return PackageNotUsable()
    return PackageExhausted()


def booking_confirm(*, actor, booking_id) -> Booking:
    """Confirm a hold: spend its lesson, book the slot, schedule the lesson.

    Already confirmed: returned unchanged. Canceled or expired: 409. A hold
    past hold_expires_at is expired and that is COMMITTED before HoldExpired
    (422) is raised. Package no longer usable: 422, nothing changes.

    Locks the booking's slot first (every booking write does), so the booking
    read next cannot change under us; the package's lesson is spent by one
    conditional UPDATE (which is its lock, in the global order).
    """
    hold_expired = False
    with recorded_atomic():
        booking, slot = _booking_with_slot_locked(booking_id)
        if not booking_can_access(user=actor, booking=booking):
            raise BookingAccessDenied()
        if booking.status == BookingStatus.CONFIRMED:
            return booking
        if booking.status != BookingStatus.HOLD:
            raise BookingStateConflict(f"A {booking.status} booking cannot be confirmed.")
        now = clock.now()
        if _hold_is_stale(booking, now):
            package = package_lock(package_id=booking.package_id)
            _expire_locked(actor=actor, booking=booking, slot=slot, package=package)
            hold_expired = True
        else:
            if package_consume_if_usable(package_id=booking.package_id, now=now) is None:
                raise PackageNotUsable()
            _confirm_steps(actor=actor, booking=booking, slot=slot, now=now)
    if hold_expired:
        # Raised only after the expiry committed: the refusal still records it.
        raise HoldExpired()
    return booking


def _booking_with_slot_locked(booking_id) -> tuple[Booking, AvailabilitySlot]:
    """Lock the booking's slot, then read the booking (404 when unknown).

    A booking's slot never changes, and every writer of a booking holds its
    slot's lock, so the booking read after the lock stays true until we commit.
    """
    slot = slot_lock_of_booking(booking_id=booking_id)
    booking = get_by_pk(Booking, booking_id) if slot is not None else None
    if booking is None:
        raise BookingNotFound()
    booking.slot = slot
    return booking, slot


def booking_cancel(*, actor, booking_id, reason: str | None = None) -> Booking:
    """Cancel a hold or a confirmed booking (student, teacher or admin).

    Already canceled: returned unchanged. Expired: 409. A hold gives its
    reserved lesson back. A confirmed booking's lesson goes back to the package
    (`refund_returned`) when the teacher or an admin cancels, or the student
    cancels more than BOOKING_REFUND_WINDOW_HOURS before the start; otherwise
    it is spent. Its lesson is canceled (422 if it is already completed or
    no-show). The slot reopens unless a booked slot has already started.
    """
    with recorded_atomic():
        booking, slot = _booking_with_slot_locked(booking_id)
        if not booking_can_access(user=actor, booking=booking):
            raise BookingAccessDenied()
        if booking.status == BookingStatus.CANCELED:
            return booking
        if booking.status == BookingStatus.EXPIRED:
            raise BookingStateConflict("An expired booking cannot be canceled.")
        package = package_lock(package_id=booking.package_id)
        return _cancel_locked(actor=actor, booking=booking, slot=slot, package=package, reason=reason)


def booking_reschedule(*, actor, booking_id, new_slot_id) -> Booking:
    """Move a confirmed booking to another open slot: cancel + hold + confirm in one transaction.

    The booking's student, or an admin on the student's behalf (teachers and
    everyone else 403). The old booking is canceled by the actor, so the
    refund rule is the actor's: a student's late reschedule spends the
    lesson, an admin's always returns it. Hold: 422; canceled or expired: 409.
    Any failing step (new slot unknown 404, not open 422, package exhausted
    or expired 422...) rolls everything back. Asking again for a booking that
    was already rescheduled returns its successor.
    """
    booking = _booking_read(booking_id)
    if not (actor.is_admin or actor.pk == booking.student_id):
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
        reason = (
            RESCHEDULE_CANCELLATION_REASON if actor.pk == booking.student_id else STAFF_RESCHEDULE_CANCELLATION_REASON
        )
        _cancel_locked(actor=actor, booking=booking, slot=old_slot, package=package, reason=reason)
        new_booking = _hold_locked(
            actor=actor, student_id=booking.student_id, slot=new_slot, package=package, rescheduled_from=booking
        )
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


# --- cascades: bookings canceled on someone's behalf ------------------------------------------------


@dataclass(frozen=True)
class TeacherDisabled:
    """What `teacher_disable` did (the body of `POST /admin/teachers/{teacher_id}/disable`)."""

    teacher_id: uuid.UUID
    canceled_bookings: int
    canceled_slots: int


def _lock_active_bookings_of_slots(slot_ids) -> list[tuple[Booking, LessonPackage]]:
    """Lock the packages, then the active bookings, of slots the caller has locked (each in pk order).

    Reading the bookings before locking them is safe: every booking write locks
    its slot first, and the caller holds those.
    """
    found = list(
        Booking.objects.filter(slot_id__in=list(slot_ids), status__in=ACTIVE_BOOKING_STATUSES).values_list(
            "pk", "package_id"
        )
    )
    packages = {
        package.pk: package for package in lock_many(LessonPackage.objects.filter(pk__in={p for _, p in found}))
    }
    bookings = lock_many(Booking.objects.filter(pk__in=[pk for pk, _ in found]))
    return [(booking, packages[booking.package_id]) for booking in bookings]


def slot_cancel(*, actor, slot_id, reason: str | None = None) -> AvailabilitySlot:
    """Withdraw a slot, canceling its hold or confirmed booking first (API and Django admin).

    An admin, or the slot's teacher (403 anyone else; 404 unknown slot). The
    booking is canceled by the actor, so a confirmed one always gets its lesson
    back (teacher/admin cancel rule); its reason is `reason` or "The slot was
    canceled.". Already canceled: returned unchanged. A slot that has started:
    422. Audit `scheduling.slot.cancel` (plus the booking's own cancel rows).
    """
    slot = one_or_none(AvailabilitySlot.objects.filter(pk=slot_id))
    if slot is None:
        raise SlotNotFound()
    if not (actor.is_admin or actor.pk == slot.teacher_id):
        raise SlotCancelDenied()
    with recorded_atomic():
        slot = slot_lock(slot_id=slot.pk)
        if slot.status == SlotStatus.CANCELED:
            return slot
        if slot.start_at <= clock.now():
            raise SlotStarted()
        previous = slot.status
        canceled = _lock_active_bookings_of_slots([slot.pk])
        for booking, package in canceled:
            booking.slot = slot
            _cancel_locked(
                actor=actor, booking=booking, slot=slot, package=package, reason=reason or SLOT_CANCELED_REASON
            )
        slot_cancel_locked(
            actor=actor,
            slot=slot,
            reason=reason,
            previous_status=previous,
            booking_id=str(canceled[0][0].pk) if canceled else None,
        )
    return slot


def teacher_disable(*, actor, teacher_id, reason: str) -> TeacherDisabled:
    """Disable a teacher in one transaction: unapprove, cancel future bookings (refunded), cancel future slots.

    Unknown user, or a user who is not a teacher: 404. A teacher without a
    profile is disabled all the same (there is only nothing to unapprove).
    Every booking in `hold` or `confirmed` on a slot that has not started is
    canceled as an admin cancel (holds release their reservation, confirmed
    bookings get their lesson back, lessons are canceled, students get
    `booking.canceled`); then every such slot, including the ones those
    cancels reopened, is canceled. Disabling a disabled teacher: zero counts.
    Audit `teachers.teacher.disable` with the counts and slot ids.

    Locks: teacher's user row, profile, the teacher's future slots, their
    bookings' packages, the bookings (module docstring).
    """
    with recorded_atomic():
        teacher = user_lock(user_id=teacher_id)
        if teacher is None or teacher.role != Role.TEACHER:
            raise TeacherNotFound()
        profile = teacher_profile_lock_for_user(user_id=teacher.pk)
        unapproved = profile is not None and teacher_profile_unapprove_locked(
            actor=actor, profile=profile, reason=reason
        )
        slots = {slot.pk: slot for slot in teacher_future_slots_lock(teacher_id=teacher.pk)}
        canceled = _lock_active_bookings_of_slots(slots)
        for booking, package in canceled:
            slot = slots[booking.slot_id]
            booking.slot = slot
            _cancel_locked(actor=actor, booking=booking, slot=slot, package=package, reason=reason)
        canceled_slots = slots_cancel_locked(slot_ids=slots)
        result = TeacherDisabled(teacher_id=teacher.pk, canceled_bookings=len(canceled), canceled_slots=canceled_slots)
        audit_log_record(
            actor=actor,
            action="teachers.teacher.disable",
            entity_type="user",
            entity_id=teacher.pk,
            payload={
                "reason": reason,
                "profile_id": str(profile.pk) if profile is not None else None,
                "unapproved": unapproved,
                "canceled_bookings": [str(booking.pk) for booking, _ in canceled],
                "canceled_slots": [str(pk) for pk in sorted(slots)],
            },
        )
    return result


class _PackageChanged(Exception):
    """A booking of the package appeared between reading it and locking its slot: start over."""


def package_cancel(*, actor, package_id, reason: str | None = None, force: bool = False) -> LessonPackage:
    """Cancel an active package (admins): its holds are canceled, and with `force` its upcoming bookings.

    Unknown package 404. Already canceled: returned unchanged. Expired: 422.
    Holds (whatever their slot's time) release their reservation and reopen
    their slot. Confirmed bookings whose slot has not started make it a 422
    unless `force`, which cancels them as admin cancels: the lesson goes back
    to the (now canceled) package, so `lessons_left` keeps counting the
    lessons the student paid for and never had. Bookings whose slot has
    started are left alone. Audit `billing.package.cancel`, outbox
    `billing.package.canceled` (plus each booking's cancel rows and events).

    Lock order slot -> package -> booking: see the module docstring for how
    it learns the slots first and what happens when a hold slips in.
    """
    for _attempt in range(PACKAGE_CANCEL_ATTEMPTS):
        try:
            return _package_cancel_once(actor=actor, package_id=package_id, reason=reason, force=force)
        except _PackageChanged:
            continue
    raise PackageBusy()


def _package_bookings_to_cancel(*, package_id, now: datetime) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """(booking id, slot id, status) of the package's holds and its confirmed bookings that have not started."""
    return list(
        Booking.objects.filter(package_id=package_id, status__in=ACTIVE_BOOKING_STATUSES)
        .exclude(status=BookingStatus.CONFIRMED, slot__start_at__lte=now)
        .order_by("pk")
        .values_list("pk", "slot_id", "status")
    )


def _package_cancel_once(*, actor, package_id, reason: str | None, force: bool) -> LessonPackage:
    now = clock.now()
    seen = _package_bookings_to_cancel(package_id=package_id, now=now)
    with recorded_atomic():
        slots = slots_lock(slot_ids={slot_id for _, slot_id, _ in seen})
        package = package_lock(package_id=package_id)
        if package is None:
            raise PackageNotFound()
        if package.status == PackageStatus.CANCELED:
            return package
        if package.status != PackageStatus.ACTIVE:
            raise PackageNotCancelable()
        # Under the package lock no booking of it can appear or change state
        # (every booking write takes the package). Re-read; a hold that landed
        # since the first read has committed and let go of its slot, so its
        # slot is taken now, out of order but without waiting; if someone holds
        # it this instant, start over.
        current = _package_bookings_to_cancel(package_id=package_id, now=now)
        missing = {slot_id for _, slot_id, _ in current} - slots.keys()
        if missing:
            try:
                slots |= slots_lock(slot_ids=missing, nowait=True)
            except SlotsBusy:
                raise _PackageChanged() from None
        upcoming = [booking_id for booking_id, _, status in current if status == BookingStatus.CONFIRMED]
        if upcoming and not force:
            raise PackageHasUpcomingBookings(details={"upcoming_bookings": [str(pk) for pk in upcoming]})
        bookings = lock_many(Booking.objects.filter(pk__in=[booking_id for booking_id, _, _ in current]))
        for booking in bookings:
            slot = slots[booking.slot_id]
            booking.slot = slot
            _cancel_locked(actor=actor, booking=booking, slot=slot, package=package, reason=reason)
        package_cancel_locked(actor=actor, package=package, reason=reason)
    return package
