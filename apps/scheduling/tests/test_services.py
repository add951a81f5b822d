import itertools
from datetime import timedelta

import pytest
from django.db import transaction

from apps.audit.models import AuditLog
from apps.identity.tests.factories import AdminFactory, TeacherFactory
from apps.scheduling import services
from apps.scheduling.errors import (
    SlotInPast,
    SlotNotFound,
    SlotOverlap,
    SlotTeacherInvalid,
    SlotTimesInvalid,
)
from apps.scheduling.models import AvailabilitySlot, SlotStatus
from apps.scheduling.selectors import open_slot_list, slot_get
from apps.scheduling.services import (
    SLOT_TRANSITIONS,
    slot_cancel_locked,
    slot_create,
    slot_lock,
    slot_set_status,
    slots_cancel_locked,
    teacher_future_slots_lock,
)
from apps.scheduling.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db


def test_factory_slots_never_overlap_and_start_in_the_future(clock):
    teacher = TeacherFactory()
    slots = SlotFactory.create_batch(3, teacher=teacher)
    clock.advance(hours=5)
    slots += SlotFactory.create_batch(3, teacher=teacher)
    for earlier, later in itertools.pairwise(slots):
        assert earlier.end_at <= later.start_at
    assert all(slot.start_at > clock.now() for slot in slots)
    assert all(slot.status == SlotStatus.OPEN for slot in slots)


def test_slot_create_rules(clock):
    admin, teacher = AdminFactory(), TeacherFactory()
    start = clock.now() + timedelta(days=1)
    with pytest.raises(SlotTimesInvalid):
        slot_create(actor=admin, teacher_id=teacher.pk, start_at=start, end_at=start)
    with pytest.raises(SlotInPast):
        slot_create(actor=admin, teacher_id=teacher.pk, start_at=clock.now(), end_at=start)
    with pytest.raises(SlotTeacherInvalid):
        slot_create(actor=admin, teacher_id=admin.pk, start_at=start, end_at=start + timedelta(hours=1))
    slot = slot_create(actor=admin, teacher_id=teacher.pk, start_at=start, end_at=start + timedelta(hours=1))
    assert slot.created_by_admin_id == admin.pk
    with pytest.raises(SlotOverlap):
        slot_create(
            actor=admin,
            teacher_id=teacher.pk,
            start_at=start + timedelta(minutes=59),
            end_at=start + timedelta(hours=2),
        )
    assert AvailabilitySlot.objects.count() == 1


def test_slot_create_is_all_or_nothing_with_its_audit_row(monkeypatch, clock):
    def broken_audit(**kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(services, "audit_log_record", broken_audit)
    start = clock.now() + timedelta(days=1)
    with pytest.raises(RuntimeError):
        slot_create(actor=AdminFactory(), teacher_id=TeacherFactory().pk, start_at=start, end_at=start + timedelta(1))
    assert not AvailabilitySlot.objects.exists()


def test_overlap_caught_by_the_database_is_a_conflict(monkeypatch):
    """If the pre-check misses a concurrent slot, the exclusion constraint still answers 409 (PostgreSQL)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("exclusion constraints are PostgreSQL-only")
    existing = SlotFactory()
    monkeypatch.setattr(services, "slot_overlaps", lambda **kwargs: False)
    with pytest.raises(SlotOverlap):
        slot_create(
            actor=AdminFactory(), teacher_id=existing.teacher_id, start_at=existing.start_at, end_at=existing.end_at
        )
    assert AvailabilitySlot.objects.count() == 1
    assert not AuditLog.objects.exists()


def test_slot_get():
    slot = SlotFactory()
    assert slot_get(slot_id=slot.pk) == slot
    with pytest.raises(SlotNotFound) as caught:
        slot_get(slot_id=AdminFactory().pk)
    assert caught.value.status_code == 404


def test_open_slot_list_filters():
    slot = SlotFactory()
    SlotFactory(status=SlotStatus.HOLD)
    assert list(open_slot_list()) == [slot]
    assert list(open_slot_list(teacher_id=slot.teacher_id, start_from=slot.start_at)) == [slot]
    assert list(open_slot_list(start_to=slot.start_at)) == []


def test_slot_set_status_follows_the_transition_table():
    from django.db import transaction

    slot = SlotFactory()
    with transaction.atomic():
        locked = slot_lock(slot_id=slot.pk)
        slot_set_status(slot=locked, status=SlotStatus.HOLD)
        slot_set_status(slot=locked, status=SlotStatus.HOLD)  # same status: no-op
        slot_set_status(slot=locked, status=SlotStatus.BOOKED)
        with pytest.raises(ValueError):
            slot_set_status(slot=locked, status=SlotStatus.HOLD)
    slot.refresh_from_db()
    assert slot.status == SlotStatus.BOOKED
    assert SLOT_TRANSITIONS[SlotStatus.CANCELED] == frozenset()


def test_slot_cancel_locked_withdraws_a_locked_slot_with_its_audit_row():
    admin = AdminFactory()
    slot = SlotFactory()
    with transaction.atomic():
        locked = slot_lock(slot_id=slot.pk)
        slot_cancel_locked(actor=admin, slot=locked, reason="ill", booking_id=None)
    slot.refresh_from_db()
    assert slot.status == SlotStatus.CANCELED
    audit = AuditLog.objects.get(action="scheduling.slot.cancel", entity_id=slot.pk)
    assert audit.payload == {
        "teacher_id": str(slot.teacher_id),
        "previous_status": "open",
        "reason": "ill",
        "booking_id": None,
    }


def test_teacher_future_slots_lock_takes_the_future_live_slots_in_pk_order(clock):
    teacher = TeacherFactory()
    SlotFactory(teacher=teacher, start_at=clock.now() - timedelta(minutes=30))  # started: not future
    live = [
        SlotFactory(teacher=teacher, status=status) for status in (SlotStatus.OPEN, SlotStatus.HOLD, SlotStatus.BOOKED)
    ]
    SlotFactory(teacher=teacher, status=SlotStatus.CANCELED)
    SlotFactory()  # another teacher's
    with transaction.atomic():
        locked = teacher_future_slots_lock(teacher_id=teacher.pk)
    assert [slot.pk for slot in locked] == sorted(slot.pk for slot in live)


def test_slots_cancel_locked_moves_every_live_slot_once():
    slots = [SlotFactory(status=status) for status in (SlotStatus.OPEN, SlotStatus.HOLD, SlotStatus.CANCELED)]
    with transaction.atomic():
        assert slots_cancel_locked(slot_ids=[slot.pk for slot in slots]) == 2
        assert slots_cancel_locked(slot_ids=[slot.pk for slot in slots]) == 0
    assert set(AvailabilitySlot.objects.values_list("status", flat=True)) == {SlotStatus.CANCELED}


def test_django_admin_lists_slots(client):
    admin = AdminFactory()
    client.force_login(admin)
    open_slot = SlotFactory()
    assert client.get("/admin/scheduling/availabilityslot/?status__exact=open").status_code == 200
    assert client.get(f"/admin/scheduling/availabilityslot/{open_slot.pk}/change/").status_code == 200


def test_open_slot_list_reads_the_partial_index():
    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("plan check is PostgreSQL-specific")
    SlotFactory.create_batch(3)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # tiny tables are seq-scanned; forbid that to see which index the planner can use
            cursor.execute("SET LOCAL enable_seqscan = off")
        plan = open_slot_list()[:20].explain()
    assert "slots_open_idx" in plan
