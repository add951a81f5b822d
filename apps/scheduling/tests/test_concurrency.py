import threading
import time
from datetime import datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from apps.audit.models import AuditLog
from apps.common import clock
from apps.identity.tests.factories import AdminFactory, TeacherFactory
from apps.scheduling.models import AvailabilitySlot, ScheduleWindow, SlotStatus
from apps.scheduling.tests.factories import make_schedule

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


# --- weekly schedules: generate ------------------------------------------------------------------


def _overlapping_pairs(teacher) -> int:
    """Pairs of the teacher's non-canceled slots sharing an instant, counted by the database itself."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM availability_slots a JOIN availability_slots b "
            "ON a.teacher_id = b.teacher_id AND a.id < b.id "
            "AND tstzrange(a.start_at, a.end_at, '[)') && tstzrange(b.start_at, b.end_at, '[)') "
            "WHERE a.teacher_id = %s AND a.status <> 'canceled' AND b.status <> 'canceled'",
            [teacher.pk],
        )
        return cursor.fetchone()[0]


def _pin_clock(clock, when: str) -> None:
    clock.advance(seconds=(datetime.fromisoformat(when) - clock.now()).total_seconds())


def _call_at_once(calls) -> list:
    """Run every zero-argument callable in its own thread, released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


GENERATE_BODY = {"from_date": "2027-03-01", "to_date": "2027-03-28"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_generates_for_one_teacher_create_each_slot_once(clock, client_for):
    require_postgresql()
    _pin_clock(clock, "2027-02-01T00:00:00+00:00")
    teacher, admin = TeacherFactory(), AdminFactory()
    make_schedule(teacher, windows=[(d, "08:00", "20:00") for d in range(7)], timezone="Europe/Berlin")
    url = f"/api/v1/scheduling/teachers/{teacher.pk}/schedule/generate"
    clients = [client_for(teacher), client_for(admin)] * 3

    responses = _call_at_once([lambda c=c: c.post(url, GENERATE_BODY, format="json") for c in clients])

    assert [r.status_code for r in responses] == [200] * len(clients)
    bodies = [r.json() for r in responses]
    assert sum(b["created"] for b in bodies) == 28 * 12
    assert all(b["created"] + b["skipped_existing"] == 28 * 12 for b in bodies)
    assert AvailabilitySlot.objects.filter(teacher=teacher).count() == 28 * 12
    assert _overlapping_pairs(teacher) == 0
    assert AuditLog.objects.filter(action="scheduling.slots.generate").count() == len(clients)


@pytest.mark.django_db(transaction=True)
def test_generate_beside_admin_slot_creates_never_overlaps(clock, client_for):
    require_postgresql()
    _pin_clock(clock, "2027-02-01T00:00:00+00:00")
    teacher, admin = TeacherFactory(), AdminFactory()
    make_schedule(teacher, windows=[(0, "08:00", "20:00")])  # Mondays, UTC
    generate_url = f"/api/v1/scheduling/teachers/{teacher.pk}/schedule/generate"
    admin_client = client_for(admin)
    # manual slots straddling generated ones (10:30-11:30, ...), each overlapping two of them
    manual = [
        {
            "teacher_id": str(teacher.pk),
            "start_at": f"2027-03-0{1 + 7 * (i // 4)}T{10 + 2 * (i % 4)}:30:00Z",
            "end_at": f"2027-03-0{1 + 7 * (i // 4)}T{11 + 2 * (i % 4)}:30:00Z",
        }
        for i in range(8)
    ]
    calls = [lambda: client_for(teacher).post(generate_url, GENERATE_BODY, format="json")]
    calls += [lambda p=p: admin_client.post(CREATE_URL, p, format="json") for p in manual]

    responses = _call_at_once(calls)

    generated, created = responses[0], responses[1:]
    assert generated.status_code == 200, generated.content
    assert {r.status_code for r in created} <= {201, 409}
    manual_made = sum(r.status_code == 201 for r in created)
    body = generated.json()
    assert body["created"] + body["skipped_existing"] == 4 * 12
    assert AvailabilitySlot.objects.filter(teacher=teacher).count() == body["created"] + manual_made
    assert _overlapping_pairs(teacher) == 0


@pytest.mark.django_db(transaction=True)
def test_a_slot_written_past_the_lock_is_dropped_by_the_exclusion_constraint_not_a_500(clock, client_for):
    """A writer that skips the teacher lock commits an overlapping slot while generate inserts: it is skipped."""
    require_postgresql()
    _pin_clock(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(0, "09:00", "12:00")])
    inserted, release = threading.Event(), threading.Event()

    def rogue_writer():
        try:
            with transaction.atomic():
                AvailabilitySlot.objects.create(
                    teacher=teacher,
                    start_at=datetime.fromisoformat("2027-03-01T10:15:00+00:00"),
                    end_at=datetime.fromisoformat("2027-03-01T10:45:00+00:00"),
                )
                inserted.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    result = {}

    def generator():
        try:
            url = f"/api/v1/scheduling/teachers/{teacher.pk}/schedule/generate"
            result["response"] = client_for(teacher).post(
                url, {"from_date": "2027-03-01", "to_date": "2027-03-01"}, format="json"
            )
        finally:
            connection.close()

    rogue = threading.Thread(target=rogue_writer)
    rogue.start()
    assert inserted.wait(timeout=30)
    worker = threading.Thread(target=generator)
    worker.start()
    # generate's INSERT ... ON CONFLICT waits for the rogue transaction's conflicting row
    waiting = _wait_until(lambda: _backends_waiting_on_a_lock() >= 1)
    release.set()
    rogue.join()
    worker.join()

    assert waiting, "generate never waited on the uncommitted overlapping slot"
    response = result["response"]
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 2, "skipped_existing": 1, "skipped_past": 0}
    assert _overlapping_pairs(teacher) == 0
    assert AvailabilitySlot.objects.filter(teacher=teacher).count() == 3


def _backends_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # inside a transaction the view is otherwise frozen
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _wait_until(predicate, timeout: float = 15) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db
def test_windows_exclusion_constraint_refuses_overlaps_written_past_the_service():
    require_postgresql()
    schedule = make_schedule(TeacherFactory(), windows=[(0, "09:00", "12:00")])
    with pytest.raises(IntegrityError) as caught, transaction.atomic():
        ScheduleWindow.objects.create(schedule=schedule, weekday=0, start_minute=11 * 60, end_minute=13 * 60)
    assert "weekly_schedule_windows_no_overlap" in str(caught.value)
    ScheduleWindow.objects.create(schedule=schedule, weekday=0, start_minute=12 * 60, end_minute=13 * 60)  # touching
    ScheduleWindow.objects.create(schedule=schedule, weekday=1, start_minute=9 * 60, end_minute=12 * 60)
    assert schedule.windows.count() == 3


@pytest.mark.django_db(transaction=True)
def test_generate_racing_a_teacher_disable_never_leaves_open_slots(clock, client_for):
    """Disable (SPEC §8.2) and generate both take the teacher's row first: generate lands before and its
    slots are canceled, or it finds the teacher unapproved (422). Never an open slot of a disabled teacher."""
    require_postgresql()
    _pin_clock(clock, "2027-02-01T00:00:00+00:00")
    admin = AdminFactory()
    for _ in range(4):
        teacher = TeacherFactory()
        make_schedule(teacher, windows=[(d, "08:00", "20:00") for d in range(7)])
        generate_url = f"/api/v1/scheduling/teachers/{teacher.pk}/schedule/generate"
        disable_url = f"/api/v1/admin/teachers/{teacher.pk}/disable"

        generated, disabled = _call_at_once(
            [
                lambda: client_for(teacher).post(generate_url, GENERATE_BODY, format="json"),
                lambda: client_for(admin).post(disable_url, {"reason": "leaving"}, format="json"),
            ]
        )

        assert disabled.status_code == 200, disabled.content
        assert generated.status_code in (200, 422), generated.content
        if generated.status_code == 200:
            assert disabled.json()["canceled_slots"] == generated.json()["created"] == 28 * 12
        assert not AvailabilitySlot.objects.filter(teacher=teacher).exclude(status=SlotStatus.CANCELED).exists()
