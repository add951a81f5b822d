"""Writes on availability slots. Other apps change slots only through these functions."""

from datetime import datetime

from django.db import IntegrityError, connection, transaction

from apps.audit.services import audit_log_record
from apps.common import clock
from apps.common.locking import lock_one, set_lock_timeout
from apps.common.queries import one_or_none
from apps.identity.models import Role
from apps.identity.services import user_lock
from apps.scheduling.errors import (
    SlotInPast,
    SlotNotCancelable,
    SlotNotFound,
    SlotOverlap,
    SlotTeacherInvalid,
    SlotTimesInvalid,
)
from apps.scheduling.models import AvailabilitySlot, SlotStatus
from apps.scheduling.open_slots_cache import open_slots_changed

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


def slot_cancel(*, actor, slot_id) -> AvailabilitySlot:
    """Withdraw an open slot (Django admin action); held or booked slots go through their booking (422)."""
    with transaction.atomic():
        set_lock_timeout()
        slot = slot_lock(slot_id=slot_id)
        if slot is None:
            raise SlotNotFound()
        if slot.status == SlotStatus.CANCELED:
            return slot
        if slot.status != SlotStatus.OPEN:
            raise SlotNotCancelable()
        slot_set_status(slot=slot, status=SlotStatus.CANCELED)
        audit_log_record(
            actor=actor,
            action="scheduling.slot.cancel",
            entity_type="availability_slot",
            entity_id=slot.pk,
            payload={"teacher_id": str(slot.teacher_id), "previous_status": SlotStatus.OPEN},
        )
    return slot
