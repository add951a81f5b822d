import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from apps.audit.models import AuditLog
from apps.common import clock
from apps.identity.tests.factories import AdminFactory, TeacherFactory
from apps.scheduling.models import AvailabilitySlot, SlotStatus

THREADS = 10
CREATE_URL = "/api/v1/scheduling/slots"


def require_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks and the exclusion constraint)")


def run_at_once(payloads, client) -> list[int]:
    """POST every payload from its own thread, all released together; return the status codes."""
    barrier = threading.Barrier(len(payloads))
    statuses: list[int] = []
    lock = threading.Lock()

    def post(payload):
        try:
            barrier.wait()
            status = client.post(CREATE_URL, payload).status_code
            with lock:
                statuses.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(p,)) for p in payloads]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


def iso(value) -> str:
    return value.isoformat()


@pytest.mark.django_db(transaction=True)
def test_concurrent_overlapping_slots_for_one_teacher_make_exactly_one(client_for):
    require_postgresql()
    admin, teacher = AdminFactory(), TeacherFactory()
    start = (clock.now() + timedelta(days=2)).replace(microsecond=0)
    # every request overlaps every other: each one is shifted by a few minutes
    payloads = [
        {
            "teacher_id": str(teacher.pk),
            "start_at": iso(start + timedelta(minutes=i)),
            "end_at": iso(start + timedelta(minutes=60 + i)),
        }
        for i in range(THREADS)
    ]
    statuses = run_at_once(payloads, client_for(admin))
    assert sorted(statuses) == [201] + [409] * (THREADS - 1)
    assert AvailabilitySlot.objects.filter(teacher=teacher).count() == 1
    assert AuditLog.objects.filter(action="scheduling.slot.create").count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_disjoint_slots_for_one_teacher_all_succeed(client_for):
    require_postgresql()
    admin, teacher = AdminFactory(), TeacherFactory()
    start = (clock.now() + timedelta(days=2)).replace(microsecond=0)
    payloads = [
        {
            "teacher_id": str(teacher.pk),
            "start_at": iso(start + timedelta(hours=i)),
            "end_at": iso(start + timedelta(hours=i + 1)),
        }
        for i in range(THREADS)
    ]
    statuses = run_at_once(payloads, client_for(admin))
    assert statuses == [201] * THREADS
    assert AvailabilitySlot.objects.filter(teacher=teacher).count() == THREADS


@pytest.mark.django_db
def test_exclusion_constraint_refuses_overlaps_written_past_the_service():
    require_postgresql()
    teacher = TeacherFactory()
    start = clock.now() + timedelta(days=3)
    AvailabilitySlot.objects.create(teacher=teacher, start_at=start, end_at=start + timedelta(hours=1))
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        AvailabilitySlot.objects.create(
            teacher=teacher, start_at=start + timedelta(minutes=30), end_at=start + timedelta(hours=2)
        )
    assert "availability_slots_no_overlap" in str(caught.value)
    # turning an existing slot into an overlapping one is refused too
    later = AvailabilitySlot.objects.create(
        teacher=teacher, start_at=start + timedelta(hours=1), end_at=start + timedelta(hours=2)
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        AvailabilitySlot.objects.filter(pk=later.pk).update(start_at=start + timedelta(minutes=59))
    assert AvailabilitySlot.objects.filter(teacher=teacher).count() == 2


@pytest.mark.django_db
def test_exclusion_constraint_ignores_canceled_slots_and_other_teachers():
    require_postgresql()
    teacher = TeacherFactory()
    start = clock.now() + timedelta(days=3)
    end = start + timedelta(hours=1)
    AvailabilitySlot.objects.create(teacher=teacher, start_at=start, end_at=end, status=SlotStatus.CANCELED)
    AvailabilitySlot.objects.create(teacher=teacher, start_at=start, end_at=end)
    AvailabilitySlot.objects.create(teacher=TeacherFactory(), start_at=start, end_at=end)
    assert AvailabilitySlot.objects.count() == 3
