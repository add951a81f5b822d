"""Writes on availability slots. Other apps change slots only through these functions."""

from apps.common.locking import lock_one
from apps.scheduling.models import AvailabilitySlot, SlotStatus

# slot status transition table: from -> allowed targets
SLOT_TRANSITIONS: dict[str, frozenset[str]] = {
    SlotStatus.OPEN: frozenset({SlotStatus.HOLD, SlotStatus.CANCELED}),
    SlotStatus.HOLD: frozenset({SlotStatus.OPEN, SlotStatus.BOOKED, SlotStatus.CANCELED}),
    SlotStatus.BOOKED: frozenset({SlotStatus.OPEN, SlotStatus.CANCELED}),
    SlotStatus.CANCELED: frozenset(),
}


def slot_lock(*, slot_id) -> AvailabilitySlot | None:
    """Lock one slot row for the rest of the transaction (None if it does not exist)."""
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
    return slot
