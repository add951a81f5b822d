"""Workers side by side on real PostgreSQL, and the loop's signal handling in a real process."""

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.audit.models import OutboxEvent
from apps.identity.tests.factories import StudentFactory, TeacherFactory
from apps.notifications import channels, worker
from apps.notifications.models import Notification
from apps.notifications.tests.factories import aggregate_type_for, contract_payload
from apps.notifications.tests.test_worker import EXPECTED_RECIPIENTS

CYCLE = {"max_retries": 5, "base_backoff_seconds": 30, "max_backoff_seconds": 300}


def _require_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL")


def _pending_events(count: int) -> int:
    """`count` pending events cycling through every event type; returns how many notifications they imply."""
    students = StudentFactory.create_batch(10)
    teachers = TeacherFactory.create_batch(4)
    event_types = sorted(EXPECTED_RECIPIENTS)
    rows, expected = [], 0
    for i in range(count):
        event_type = event_types[i % len(event_types)]
        payload = contract_payload(event_type, student=students[i % 10], teacher=teachers[i % 4])
        rows.append(
            OutboxEvent(
                aggregate_type=aggregate_type_for(event_type),
                aggregate_id=payload.get("booking_id") or payload.get("package_id"),
                event_type=event_type,
                payload=payload,
                occurred_at=worker.clock.now(),
            )
        )
        expected += len(EXPECTED_RECIPIENTS[event_type])
    OutboxEvent.objects.bulk_create(rows)
    return expected


@pytest.mark.django_db(transaction=True)
def test_two_workers_handle_every_event_and_notification_exactly_once(monkeypatch):
    _require_postgresql()
    expected_notifications = _pending_events(1000)
    handled, delivered, errors = [], [], []
    real_drafts = worker.notification_drafts_for
    real_email = channels.CHANNELS["email"]

    def recording_drafts(*, event_type, payload):
        handled.append((threading.current_thread().name, payload.get("booking_id") or payload.get("lesson_id")))
        return real_drafts(event_type=event_type, payload=payload)

    def recording_email(notification):
        delivered.append(notification.pk)
        real_email(notification)

    monkeypatch.setattr(worker, "notification_drafts_for", recording_drafts)
    monkeypatch.setitem(channels.CHANNELS, "email", recording_email)
    barrier = threading.Barrier(2)

    def run_worker():
        try:
            barrier.wait()
            while True:
                stats = worker.run_cycle(batch_size=50, **CYCLE)
                if stats == worker.CycleStats():
                    break
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run_worker, name=f"worker-{n}") for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert errors == []
    assert OutboxEvent.objects.filter(status="processed").count() == 1000
    assert len(handled) == 1000  # every event's template ran exactly once, across both workers
    assert Counter(name for name, _ in handled).keys() <= {"worker-0", "worker-1"}
    assert Notification.objects.count() == expected_notifications
    assert Notification.objects.filter(status="sent").count() == expected_notifications
    assert len(delivered) == len(set(delivered)) == expected_notifications  # no notification sent twice
    duplicates = Counter(Notification.objects.values_list("outbox_event_id", "user_id"))
    assert max(duplicates.values()) == 1
    print(f"\nworkers share: {dict(Counter(name for name, _ in handled))}")


@pytest.mark.django_db(transaction=True)
def test_one_cycle_of_1000_events(settings):
    _require_postgresql()
    expected = _pending_events(1000)
    started = time.perf_counter()
    stats = worker.run_cycle(batch_size=1000, **CYCLE)
    elapsed = time.perf_counter() - started
    print(f"\n1000-event cycle: {elapsed:.2f}s ({stats})")
    assert (stats.processed, stats.failed) == (1000, 0)
    assert stats.dispatched == min(1000, expected)
    assert Notification.objects.count() == expected


def _worker_process(tmp: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "LOG_LEVEL": "INFO",
        "OUTBOX_WORKER_MODE": "once",
    }
    log = tmp / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_outbox_worker", "--loop", "--poll-seconds", "0.2", *extra],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    return process, log


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_loop_stops_cleanly_on_signal(signum):
    _require_postgresql()
    student = StudentFactory()
    first = OutboxEvent.objects.create(
        aggregate_type="package",
        aggregate_id=student.pk,
        event_type="billing.package.created",
        payload=contract_payload("billing.package.created", student=student),
        occurred_at=worker.clock.now(),
    )
    with tempfile.TemporaryDirectory() as tmp:
        process, log = _worker_process(Path(tmp))
        try:
            # The loop is live once it has handled the event; then hand it a second one between polls.
            assert _wait_for(lambda: OutboxEvent.objects.get(pk=first.pk).status == "processed", 60), log.read_text()
            assert _wait_for(lambda: Notification.objects.filter(status="sent").count() == 1, 10), log.read_text()
            process.send_signal(signum)
            started = time.monotonic()
            assert process.wait(timeout=5) == 0, log.read_text()
            stopped_in = time.monotonic() - started
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        output = log.read_text()
    assert stopped_in < 3
    assert "outbox cycle requeued=0 processed=1 failed=0 dispatched=1" in output
    assert "stopping after the current batch" in output
    assert "Traceback" not in output
