"""Faults on real PostgreSQL with real processes and threads.

- the outbox worker (`--loop`) outlives its database connections being killed;
- the cron sweeps run beside 16 clients booking through the API: no 5xx, no
  deadlock, and every counter, slot and lesson agrees with the bookings after;
- a request that crashes halfway leaves no trace (no audit or outbox rows, no
  half-applied counters).
"""

import io
import random
import threading
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Q

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.models import LessonPackage, PackageStatus
from apps.billing.tests.factories import PackageFactory
from apps.booking.models import Booking, BookingStatus
from apps.booking.tests.factories import make_confirmed, make_hold
from apps.common import clock
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.lessons.models import Lesson, LessonStatus
from apps.notifications.models import Notification
from apps.notifications.tests.factories import aggregate_type_for, contract_payload
from apps.scheduling.models import AvailabilitySlot, SlotStatus
from apps.scheduling.tests.factories import SlotFactory
from tests.process_helpers import (
    child_env,
    kill_group,
    manage_py,
    require_postgresql,
    stop,
    tail,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    require_postgresql()


# --- a. the outbox worker survives its connection being killed -------------------------------------


def _add_events(count: int, *, student) -> list:
    """`count` pending `booking.confirmed` events for `student` (one notification each)."""
    rows = []
    for _ in range(count):
        payload = contract_payload("booking.confirmed", student=student)
        rows.append(
            OutboxEvent(
                aggregate_type=aggregate_type_for("booking.confirmed"),
                aggregate_id=payload["booking_id"],
                event_type="booking.confirmed",
                payload=payload,
                occurred_at=clock.now(),
            )
        )
    return [event.pk for event in OutboxEvent.objects.bulk_create(rows)]


def _processed(ids) -> int:
    return OutboxEvent.objects.filter(pk__in=ids, status=OutboxEvent.Status.PROCESSED).count()


def _kill_backends(application_name: str) -> int:
    """pg_terminate_backend every connection the worker holds (never this test's own); returns how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]


def _backends(application_name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]


def test_outbox_worker_loop_recovers_after_its_connections_are_killed(tmp_logs):
    student = StudentFactory()
    app_name = f"outbox-worker-{uuid.uuid4().hex[:8]}"
    env = child_env()
    env["DATABASE_URL"] = env["DATABASE_URL"] + f"?application_name={app_name}"
    log = tmp_logs / "worker.log"
    first = _add_events(5, student=student)

    worker = manage_py("run_outbox_worker", "--loop", "--poll-seconds", "0.2", "--batch-size", "20", env=env, log=log)
    try:
        # 1. The loop is live: the first events are processed.
        assert wait_for(lambda: _processed(first) == 5, timeout=60), tail(log)

        # 2. Kill its connection while it idles between polls; hand it more work.
        assert wait_for(lambda: _backends(app_name) >= 1, timeout=10), tail(log)
        assert _kill_backends(app_name) >= 1
        second = _add_events(5, student=student)
        assert wait_for(lambda: _processed(second) == 5, timeout=20), tail(log)
        assert worker.poll() is None, tail(log)

        # 3. Kill it again and again while it is busy, mid-batch and mid-transaction.
        third = _add_events(400, student=student)
        kills = 0
        deadline = time.monotonic() + 20
        while _processed(third) < 400 and time.monotonic() < deadline:
            if 0 < _processed(third) and kills < 5:
                kills += _kill_backends(app_name)
            time.sleep(0.05)
        assert wait_for(lambda: _processed(third) == 400, timeout=20), tail(log)
        assert kills >= 1
        assert worker.poll() is None, tail(log)

        # Every notification made and sent exactly once, despite the rolled-back transactions.
        all_ids = [*first, *second, *third]
        all_sent = lambda: Notification.objects.filter(status="sent").count() == len(all_ids)  # noqa: E731
        assert wait_for(all_sent, timeout=20), tail(log)
        assert Notification.objects.count() == len(all_ids)
        assert set(Notification.objects.values_list("outbox_event_id", flat=True)) == set(all_ids)
        assert OutboxEvent.objects.exclude(status=OutboxEvent.Status.PROCESSED).count() == 0

        assert stop(worker, timeout=10) == 0, tail(log)
    finally:
        kill_group(worker)
    output = log.read_text()
    assert "outbox worker loop stopped after" in output
    # The kills mid-batch really broke cycles (the recovery path ran), and the loop carried on.
    assert output.count("outbox cycle failed") >= 1, output[-4000:]
    print(f"\nworker's connections killed {kills + 1} times; failed cycles: {output.count('outbox cycle failed')}")


# --- b. cron sweeps beside 16 clients -----------------------------------------------------------------------

CLIENTS = 16
ROUNDS = 10
HOLD = "/api/v1/booking/hold"
ALLOWED = {
    "hold": {201, 409, 422},
    "confirm": {200, 409, 422},
    "cancel": {200, 409},
}


def _sweep_loop(command: str, *, env, log: Path, stop_event: threading.Event, exit_codes: list) -> None:
    """Run `manage.py <command>` back to back (as cron would, only faster) until told to stop."""
    while not stop_event.is_set():
        process = manage_py(command, env=env, log=log)
        try:
            exit_codes.append(process.wait(timeout=60))
        finally:
            kill_group(process)


def _in_process_sweeps(stop_event: threading.Event, errors: list, runs: Counter) -> None:
    """A copy of both sweeps, in this process, against the same rows."""
    try:
        while not stop_event.is_set():
            call_command("expire_booking_holds", stdout=io.StringIO())
            call_command("expire_packages", stdout=io.StringIO())
            runs["in_process"] += 1
            time.sleep(0.02)
    except Exception as exc:  # surfaced by the test
        errors.append(exc)
    finally:
        connection.close()


def _stale_maker(stop_event: threading.Event, errors: list, rng: random.Random) -> None:
    """Push random live holds past hold_expires_at while the clients work (time passing, fast)."""
    try:
        while not stop_event.is_set():
            ids = list(Booking.objects.filter(status=BookingStatus.HOLD).values_list("pk", flat=True)[:50])
            if ids:
                # One row per statement: this writer never holds one lock while waiting for another.
                Booking.objects.filter(pk=rng.choice(ids), status=BookingStatus.HOLD).update(
                    hold_expires_at=clock.now() - timedelta(seconds=1)
                )
            time.sleep(0.02)
    except Exception as exc:
        errors.append(exc)
    finally:
        connection.close()


def _client_session(*, client, slots, stale_hold_id, seed: int, results: list, errors: list) -> None:
    rng = random.Random(seed)
    try:
        if stale_hold_id is not None:
            response = client.post(f"/api/v1/booking/{stale_hold_id}/confirm")
            results.append(("confirm", response.status_code, response.content[:300]))
        for _ in range(ROUNDS):
            slot = rng.choice(slots)
            response = client.post(HOLD, {"slot_id": str(slot.pk), "package_id": str(client.package_id)})
            results.append(("hold", response.status_code, response.content[:300]))
            if response.status_code != 201:
                continue
            booking_id = response.json()["id"]
            plan = rng.choice(["confirm", "confirm", "cancel", "confirm+cancel", "leave"])
            if plan.startswith("confirm"):
                response = client.post(f"/api/v1/booking/{booking_id}/confirm")
                results.append(("confirm", response.status_code, response.content[:300]))
            if plan.endswith("cancel"):
                response = client.post(f"/api/v1/booking/{booking_id}/cancel", {"reason": "changed my mind"})
                results.append(("cancel", response.status_code, response.content[:300]))
    except Exception as exc:
        errors.append(exc)
    finally:
        connection.close()


def _assert_books_balance(packages, slots) -> None:
    """Counters, slots and lessons agree with the bookings (services' rules), and the constraints held."""
    refund_window = timedelta(hours=settings.BOOKING_REFUND_WINDOW_HOURS)
    for package in LessonPackage.objects.filter(pk__in=[p.pk for p in packages]):
        bookings = Booking.objects.filter(package=package)
        holds = bookings.filter(status=BookingStatus.HOLD).count()
        confirmed = bookings.filter(status=BookingStatus.CONFIRMED).count()
        # A canceled booking that had been confirmed spent its lesson unless it was refunded.
        spent_then_canceled = bookings.filter(
            status=BookingStatus.CANCELED, confirmed_at__isnull=False, refund_returned=False
        ).count()
        assert package.lessons_reserved == holds, package
        assert package.lessons_left == package.lessons_total - confirmed - spent_then_canceled, package
        assert 0 <= package.lessons_reserved <= package.lessons_left <= package.lessons_total, package

    slot_status_for = {BookingStatus.HOLD: SlotStatus.HOLD, BookingStatus.CONFIRMED: SlotStatus.BOOKED}
    for slot in AvailabilitySlot.objects.filter(pk__in=[s.pk for s in slots]):
        active = list(Booking.objects.filter(slot=slot, status__in=[BookingStatus.HOLD, BookingStatus.CONFIRMED]))
        assert len(active) <= 1, (slot, active)
        expected = slot_status_for[active[0].status] if active else SlotStatus.OPEN
        assert slot.status == expected, (slot, active)

    for booking in Booking.objects.select_related("slot"):
        lessons = list(Lesson.objects.filter(booking=booking))
        if booking.confirmed_at is None:
            # Never confirmed: no lesson, nothing spent, nothing refunded.
            assert lessons == [] and booking.refund_returned is False, booking
            continue
        assert len(lessons) == 1, booking
        if booking.status == BookingStatus.CONFIRMED:
            assert lessons[0].status == LessonStatus.SCHEDULED, booking
        else:
            assert booking.status == BookingStatus.CANCELED, booking
            assert lessons[0].status == LessonStatus.CANCELED, booking
            # Students cancel their own: refunded only outside the refund window.
            assert booking.refund_returned == (booking.slot.start_at - booking.canceled_at > refund_window), booking

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM lesson_packages WHERE NOT (lessons_reserved >= 0 "
            "AND lessons_reserved <= lessons_left AND lessons_left <= lessons_total AND lessons_total >= 1)"
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            "SELECT count(*) FROM (SELECT slot_id FROM bookings WHERE status IN ('hold', 'confirmed') "
            "GROUP BY slot_id HAVING count(*) > 1) AS doubled"
        )
        assert cursor.fetchone()[0] == 0
        cursor.execute("SELECT count(*) FROM availability_slots WHERE end_at <= start_at")
        assert cursor.fetchone()[0] == 0


def _assert_one_event_per_effect(packages) -> None:
    events = Counter(OutboxEvent.objects.values_list("event_type", "aggregate_id"))
    audits = Counter(AuditLog.objects.values_list("action", "entity_id"))
    for booking in Booking.objects.all():
        assert events[("booking.hold.created", booking.pk)] == 1, booking
        assert audits[("booking.hold.create", booking.pk)] == 1, booking
        assert events[("booking.confirmed", booking.pk)] == (1 if booking.confirmed_at else 0), booking
        assert events[("booking.hold.expired", booking.pk)] == (1 if booking.status == BookingStatus.EXPIRED else 0), (
            booking
        )
        assert events[("booking.canceled", booking.pk)] == (1 if booking.status == BookingStatus.CANCELED else 0), (
            booking
        )
    for package in LessonPackage.objects.filter(pk__in=[p.pk for p in packages]):
        expected = 1 if package.status == PackageStatus.EXPIRED else 0
        assert events[("billing.package.expired", package.pk)] == expected, package
        assert audits[("billing.package.expire", package.pk)] == expected, package


def test_cron_sweeps_beside_sixteen_booking_clients(client_for, tmp_logs):
    rng = random.Random(20261127)
    now = clock.now()
    admin = AdminFactory()
    teachers = TeacherFactory.create_batch(4)
    base = (now + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    # 48 slots from 3 h to ~36 h ahead: some inside the 24 h refund window, some outside.
    slots = [
        SlotFactory(
            teacher=teachers[i % 4],
            created_by_admin=admin,
            start_at=base + (i // 4) * timedelta(hours=3),
            end_at=base + (i // 4) * timedelta(hours=3) + timedelta(hours=1),
        )
        for i in range(48)
    ]
    students = StudentFactory.create_batch(CLIENTS)
    packages = []
    for student in students:
        packages.append(PackageFactory(student=student, lessons_total=8, lessons_left=8))
    # Six students start with a hold already stale: the hold sweep and their own confirm race for it.
    stale_holds = {}
    for n in range(6):
        hold = make_hold(student=students[n], slot=slots[40 + n], package=packages[n])
        stale_holds[n] = hold.pk
    Booking.objects.filter(pk__in=stale_holds.values()).update(hold_expires_at=now - timedelta(minutes=1))

    clients = []
    for student, package in zip(students, packages, strict=True):
        client = client_for(student)
        client.raise_request_exception = False
        client.package_id = package.pk
        clients.append(client)

    # Every fourth package runs out of time 2-4 s into the run: the package sweeps expire it.
    due_from = clock.now()
    for n in range(0, CLIENTS, 4):
        LessonPackage.objects.filter(pk=packages[n].pk).update(expires_at=due_from + timedelta(seconds=2 + n % 3))

    env = child_env()
    stop_event = threading.Event()
    results: list = []
    errors: list = []
    exit_codes: dict[str, list] = {"expire_booking_holds": [], "expire_packages": []}
    runs: Counter = Counter()
    background = [
        threading.Thread(
            target=_sweep_loop,
            args=(command,),
            kwargs={"env": env, "log": tmp_logs / f"{command}.log", "stop_event": stop_event, "exit_codes": codes},
            daemon=True,
        )
        for command, codes in exit_codes.items()
    ]
    # Two more copies of the sweeps in this process: copies racing each other for the same stale rows.
    background += [
        threading.Thread(target=_in_process_sweeps, args=(stop_event, errors, runs), daemon=True) for _ in range(2)
    ]
    background.append(threading.Thread(target=_stale_maker, args=(stop_event, errors, rng), daemon=True))
    sessions = [
        threading.Thread(
            target=_client_session,
            kwargs={
                "client": client,
                "slots": slots,
                "stale_hold_id": stale_holds.get(n),
                "seed": rng.randrange(1 << 30),
                "results": results,
                "errors": errors,
            },
            daemon=True,
        )
        for n, client in enumerate(clients)
    ]
    started = time.monotonic()
    hung: list = []
    try:
        for thread in background:
            thread.start()
        time.sleep(0.5)  # let the first sweep processes boot
        for thread in sessions:
            thread.start()
        for thread in sessions:
            thread.join(timeout=max(1.0, 120 - (time.monotonic() - started)))
        hung = [thread.name for thread in sessions if thread.is_alive()]
        # Packages due during the run must be past due before the sweeps stop.
        time.sleep(max(0.0, (due_from + timedelta(seconds=5) - clock.now()).total_seconds()))
    finally:
        stop_event.set()
        for thread in background:
            thread.join(timeout=90)
    clients_took = time.monotonic() - started
    assert hung == [], f"client threads hung (deadlock?): {hung}"
    assert not any(thread.is_alive() for thread in background), "a sweep hung"
    assert errors == [], errors
    logs = {path.name: tail(path) for path in tmp_logs.iterdir()}
    for command, codes in exit_codes.items():
        assert codes and set(codes) == {0}, (command, codes, logs)
    assert not any("Traceback" in text for text in logs.values()), logs

    statuses = Counter((kind, status) for kind, status, _ in results)
    server_errors = [(kind, status, body) for kind, status, body in results if status >= 500]
    assert server_errors == [], server_errors
    unexpected = [(kind, status, body) for kind, status, body in results if status not in ALLOWED[kind]]
    assert unexpected == [], unexpected
    assert statuses[("hold", 201)] >= CLIENTS and statuses[("confirm", 200)] >= 1, statuses

    # A last sweep of each (what the next cron minute does) settles everything that came due.
    for command in exit_codes:
        call_command(command, stdout=io.StringIO())
    assert not Booking.objects.filter(status=BookingStatus.HOLD, hold_expires_at__lte=clock.now()).exists()
    assert not LessonPackage.objects.filter(status=PackageStatus.ACTIVE, expires_at__lte=clock.now()).exists()
    assert LessonPackage.objects.filter(status=PackageStatus.EXPIRED).count() == 4
    assert set(Booking.objects.filter(pk__in=stale_holds.values()).values_list("status", flat=True)) == {
        BookingStatus.EXPIRED
    }

    _assert_books_balance(packages, slots)
    _assert_one_event_per_effect(packages)
    by_status = Counter(Booking.objects.values_list("status", flat=True))
    print(
        f"\n{len(results)} requests in {clients_took:.1f}s: {dict(sorted(statuses.items()))}; "
        f"bookings {dict(by_status)}; sweeps: "
        f"{ {command: len(codes) for command, codes in exit_codes.items()} } + {runs['in_process']} in-process"
    )
    assert by_status[BookingStatus.EXPIRED] >= 6
    assert Booking.objects.filter(~Q(status=BookingStatus.EXPIRED), confirmed_at__isnull=False).exists()


# --- c. a request that crashes halfway leaves nothing behind ----------------------------------------------


def _snapshot() -> dict:
    models = (Booking, AvailabilitySlot, LessonPackage, Lesson, AuditLog, OutboxEvent, Notification)
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in models}


class Boom(RuntimeError):
    pass


def _raise_on_call(number: int, real):
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == number:
            raise Boom("injected failure: the disk is on fire /etc/passwd")
        return real(*args, **kwargs)

    return wrapper


def _inject(monkeypatch, point: str) -> None:
    import apps.booking.services as booking_services
    import apps.lessons.services as lesson_services

    if point == "lesson_create":
        monkeypatch.setattr(booking_services, "lesson_create_for_booking", _raise_on_call(1, None))
    elif point == "lesson_cancel":
        monkeypatch.setattr(booking_services, "lesson_cancel_for_booking", _raise_on_call(1, None))
    elif point == "second_outbox_event":
        # One counter across both modules that write outbox rows during a confirm/cancel.
        failing = _raise_on_call(2, booking_services.outbox_event_add)
        monkeypatch.setattr(booking_services, "outbox_event_add", failing)
        monkeypatch.setattr(lesson_services, "outbox_event_add", failing)
    elif point == "last_audit_record":
        monkeypatch.setattr(booking_services, "audit_log_record", _raise_on_call(1, booking_services.audit_log_record))
    else:  # pragma: no cover
        raise AssertionError(point)


@pytest.mark.parametrize(
    ("action", "point"),
    [
        ("confirm", "lesson_create"),
        ("confirm", "second_outbox_event"),
        ("confirm", "last_audit_record"),
        ("cancel", "lesson_cancel"),
        ("cancel", "second_outbox_event"),
        ("hold", "last_audit_record"),
    ],
)
def test_a_request_failing_halfway_leaves_no_trace(monkeypatch, client_for, action, point):
    student = StudentFactory()
    package = PackageFactory(student=student, lessons_total=3, lessons_left=3)
    slot = SlotFactory(start_at=clock.now() + timedelta(hours=48), end_at=clock.now() + timedelta(hours=49))
    if action == "hold":
        path, body = HOLD, {"slot_id": str(slot.pk), "package_id": str(package.pk)}
    elif action == "confirm":
        booking = make_hold(student=student, slot=slot, package=package)
        path, body = f"/api/v1/booking/{booking.pk}/confirm", {}
    else:
        booking = make_confirmed(student=student, slot=slot, package=package)
        path, body = f"/api/v1/booking/{booking.pk}/cancel", {"reason": "x"}
    client = client_for(student)
    client.raise_request_exception = False
    before = _snapshot()

    _inject(monkeypatch, point)
    response = client.post(path, body)

    assert response.status_code == 500, response.content
    assert response.json() == {"error": {"code": "internal_error", "message": "Internal server error.", "details": {}}}
    assert b"Traceback" not in response.content and b"injected" not in response.content
    assert _snapshot() == before

    # Nothing was left locked or half-done: the same request succeeds once the fault is gone.
    monkeypatch.undo()
    retry = client.post(path, body)
    assert retry.status_code == (201 if action == "hold" else 200), retry.content
