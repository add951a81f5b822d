"""Writes on availability slots. Other apps change slots only through these functions.

Lock order: a writer that inserts slots for a teacher (`slot_create`, the
schedule generator) first takes the teacher's user row (`identity.services.user_lock`,
FOR NO KEY UPDATE); so does booking's `teacher_disable` before it locks the
teacher's slots (`teacher_future_slots_lock`). Then slots, in primary-key
order; then (booking) package -> booking -> lesson.
"""

from datetime import datetime

from django.db import IntegrityError, OperationalError, connection, transaction

from apps.audit.services import audit_log_record
from apps.common import clock
from apps.common.locking import lock_many, lock_one, set_lock_timeout
from apps.common.queries import one_or_none
from apps.identity.models import Role
from apps.identity.services import user_lock
from apps.scheduling.errors import (
    SlotInPast,
    SlotOverlap,
    SlotsBusy,
    SlotTeacherInvalid,
    SlotTimesInvalid,
)
from apps.scheduling.models import AvailabilitySlot, SlotStatus
from apps.scheduling.open_slots_cache import open_slots_changed

# PostgreSQL's SQLSTATE for a NOWAIT lock that is taken
LOCK_NOT_AVAILABLE = "55P03"

# slot status transition table: from -> allowed targets
SLOT_TRANSITIONS: dict[str, frozenset[str]] = {
    SlotStatus.OPEN: frozenset({SlotStatus.HOLD, SlotStatus.CANCELED}),
    SlotStatus.HOLD: frozenset({SlotStatus.OPEN, SlotStatus.BOOKED, SlotStatus.CANCELED}),
    SlotStatus.BOOKED: frozenset({SlotStatus.OPEN, SlotStatus.CANCELED}),
    SlotStatus.CANCELED: frozenset(),
}


def slot_lock(*, slot_id, skip_locked: bool = False) -> AvailabilitySlot | None:
    """Lock one slot row for the rest of the transaction (None if it does not exist).

    With `skip_locked` (PostgreSQL), a slot another transaction holds is
    skipped and None returned: sweeps use it so they never queue behind the API.
    """
    if skip_locked and connection.features.has_select_for_update_skip_locked:
        return one_or_none(AvailabilitySlot.objects.select_for_update(skip_locked=True).filter(pk=slot_id))
    return lock_one(AvailabilitySlot.objects.all(), slot_id)


def slots_lock(*, slot_ids, nowait: bool = False) -> dict:
    """Lock many slots in primary-key order (the rule that keeps two lockers from deadlocking); {pk: slot}.

    With `nowait` (PostgreSQL), a slot another transaction holds raises
    SlotsBusy at once instead of waiting. That is how a caller may take a
    slot out of the global order (after a package): a lock that never waits
    cannot close a cycle of waits.
    """
    queryset = AvailabilitySlot.objects.filter(pk__in=list(slot_ids))
    if not (nowait and connection.features.has_select_for_update_nowait):
        return {slot.pk: slot for slot in lock_many(queryset)}
    try:
        with transaction.atomic():
            return {slot.pk: slot for slot in queryset.select_for_update(nowait=True).order_by("pk")}
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise SlotsBusy() from None
        raise


def slot_set_status(*, slot: AvailabilitySlot, status: str) -> AvailabilitySlot:
    """Move a locked slot along its transition table; same status is a no-op.

    Callers (booking) hold the slot's row lock; an illegal move is a
    programming error, not a user error, so it raises ValueError.
    """
    if slot.status == status:
        return slot
    if status not in SLOT_TRANSITIONS[slot.status]:
        raise ValueError(f"slot cannot move {slot.status} -> {status}")
    slot.status = status
    slot.save(update_fields=["status", "updated_at"])
    open_slots_changed()
    return slot


def slot_overlaps(*, teacher_id, start_at: datetime, end_at: datetime) -> bool:
    """Whether the teacher has a non-canceled slot sharing any instant with [start_at, end_at)."""
    return (
        AvailabilitySlot.objects.filter(teacher_id=teacher_id, start_at__lt=end_at, end_at__gt=start_at)
        .exclude(status=SlotStatus.CANCELED)
        .exists()
    )


def slot_create(*, actor, teacher_id, start_at: datetime, end_at: datetime) -> AvailabilitySlot:
    """Open a new slot for a teacher (admins only; the view checks the role).

    422 when the times are wrong (end not after start, start not in the
    future) or `teacher_id` is not a teacher's user id; 409 when it overlaps
    one of the teacher's non-canceled slots. Touching ranges (`[)`) do not overlap.

    Race safety: the teacher's user row is locked (FOR NO KEY UPDATE, which
    does not block inserts referencing the user), so creations for one
    teacher run one after another and the overlap query sees the winner's
    row. On PostgreSQL the exclusion constraint `availability_slots_no_overlap`
    is the final guard even for writers that skip this service; its violation
    arrives as IntegrityError and becomes the same 409.
    """
    if end_at <= start_at:
        raise SlotTimesInvalid()
    if start_at <= clock.now():
        raise SlotInPast()
    with transaction.atomic():
        set_lock_timeout()
        teacher = user_lock(user_id=teacher_id)
        if teacher is None or teacher.role != Role.TEACHER:
            raise SlotTeacherInvalid()
        if slot_overlaps(teacher_id=teacher.pk, start_at=start_at, end_at=end_at):
            raise SlotOverlap()
        try:
            with transaction.atomic():
                slot = AvailabilitySlot.objects.create(
                    teacher=teacher,
                    created_by_admin=actor,
                    start_at=start_at,
                    end_at=end_at,
                    status=SlotStatus.OPEN,
                )
        except IntegrityError:
            raise SlotOverlap() from None
        open_slots_changed()
        audit_log_record(
            actor=actor,
            action="scheduling.slot.create",
            entity_type="availability_slot",
            entity_id=slot.pk,
            payload={
                "teacher_id": str(teacher.pk),
                "start_at": start_at.isoformat(),
                "end_at": end_at.isoformat(),
                "status": slot.status,
            },
        )
    return slot


def slot_cancel_locked(*, actor, slot: AvailabilitySlot, reason: str | None = None, **payload) -> AvailabilitySlot:
    """Withdraw one slot whose row the caller has locked; audit `scheduling.slot.cancel`.

    The caller (booking's `slot_cancel`) has already canceled the slot's active
    booking, if any: this app cannot see bookings. `payload` adds what the
    caller knows to the audit row (the status before the cascade, the booking).
    """
    previous = slot.status
    slot_set_status(slot=slot, status=SlotStatus.CANCELED)
    audit_log_record(
        actor=actor,
        action="scheduling.slot.cancel",
        entity_type="availability_slot",
        entity_id=slot.pk,
        payload={"teacher_id": str(slot.teacher_id), "previous_status": previous, "reason": reason, **payload},
    )
    return slot


def teacher_future_slots_lock(*, teacher_id) -> list[AvailabilitySlot]:
    """Lock every non-canceled slot of the teacher that starts in the future, in primary-key order.

    The caller must hold the teacher's user row (`user_lock`) first, as every
    writer that inserts slots for a teacher does: then no new slot of theirs
    can appear behind this list until the transaction ends.
    """
    return lock_many(
        AvailabilitySlot.objects.filter(teacher_id=teacher_id, start_at__gt=clock.now()).exclude(
            status=SlotStatus.CANCELED
        )
    )


def slots_cancel_locked(*, slot_ids) -> int:
    """Move many slots the caller has locked to `canceled` in one UPDATE; return how many moved.

    For cascades (a teacher disabled) whose caller writes one audit row for
    the whole set; single slots go through `slot_cancel_locked`.
    """
    changed = (
        AvailabilitySlot.objects.filter(pk__in=list(slot_ids))
        .exclude(status=SlotStatus.CANCELED)
        .update(status=SlotStatus.CANCELED, updated_at=clock.now())
    )
    if changed:
        open_slots_changed()
    return changed
