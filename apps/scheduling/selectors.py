"""Reads on availability slots."""

from datetime import datetime

from django.db.models import QuerySet

from apps.common import clock
from apps.common.queries import one_or_none
from apps.scheduling.errors import SlotNotFound
from apps.scheduling.models import AvailabilitySlot, SlotStatus


def slot_get(*, slot_id) -> AvailabilitySlot:
    """One slot by id, without a lock (use services.slot_lock to change it); SlotNotFound (404) if unknown."""
    slot = one_or_none(AvailabilitySlot.objects.filter(pk=slot_id))
    if slot is None:
        raise SlotNotFound()
    return slot


def open_slot_list(
    *, teacher_id=None, start_from: datetime | None = None, start_to: datetime | None = None
) -> QuerySet[AvailabilitySlot]:
    """Open slots that start in the future, soonest first; `start_from <= start_at < start_to` when given.

    `status = 'open'` plus ordering by (start_at, id) matches the partial index
    `slots_open_idx`, so a page is an index range scan.
    """
    queryset = AvailabilitySlot.objects.filter(status=SlotStatus.OPEN, start_at__gt=clock.now())
    if teacher_id is not None:
        queryset = queryset.filter(teacher_id=teacher_id)
    if start_from is not None:
        queryset = queryset.filter(start_at__gte=start_from)
    if start_to is not None:
        queryset = queryset.filter(start_at__lt=start_to)
    return queryset.order_by("start_at", "id")


def teacher_open_slot_count(*, teacher_id) -> int:
    """How many open slots of the teacher students could still hold (open, starting in the future)."""
    return AvailabilitySlot.objects.filter(
        teacher_id=teacher_id, status=SlotStatus.OPEN, start_at__gt=clock.now()
    ).count()
