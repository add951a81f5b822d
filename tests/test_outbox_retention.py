"""Outbox retention beside a running worker, with real processes on PostgreSQL (SPEC §8.6).

A looping `run_outbox_worker` processes events that keep arriving while two
`prune_outbox_events` runs at once delete 20,000 old processed events:
pending and failed events survive, recent processed ones stay, every old one
goes exactly once, notifications of pruned events stay (unlinked), and the
worker keeps working without an error.
"""

import re
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections

from apps.audit.models import OutboxEvent
from apps.common import clock
from apps.identity.tests.factories import StudentFactory
from apps.notifications.models import Notification
from apps.notifications.tests.factories import aggregate_type_for, contract_payload
from tests.process_helpers import child_env, kill_group, manage_py, require_postgresql, stop, tail, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

OLD_PROCESSED = 20_000
OLD_WITH_NOTIFICATION = 2_000
PRUNED_LINE = re.compile(r"Pruned (\d+) processed outbox events older than 30 days")


@pytest.fixture(autouse=True)
def _postgresql_only():
    require_postgresql()


def _old_processed_events(student) -> None:
    """20,000 events processed 31-61 days ago; the first 2,000 have a sent notification each."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO outbox_events (id, aggregate_type, aggregate_id, event_type, payload, status, occurred_at,
                                       processed_at, retries, error_message, created_at, updated_at)
            SELECT gen_random_uuid(), 'booking', gen_random_uuid(), 'booking.confirmed', '{}'::jsonb, 'processed',
                   now() - interval '61 days' + g * interval '2 minutes',
                   now() - interval '61 days' + g * interval '2 minutes' + interval '1 second',
                   0, '', now() - interval '61 days', now() - interval '61 days'
            FROM generate_series(1, %s) g
            """,
            [OLD_PROCESSED],
        )
        cursor.execute(
            """
            INSERT INTO notifications (id, user_id, channel, title, body, status, sent_at, error_message,
                                       outbox_event_id, created_at, updated_at)
            SELECT gen_random_uuid(), %s, 'email', 'Booking confirmed', 'old news', 'sent', e.processed_at, '',
                   e.id, e.processed_at, e.processed_at
            FROM (SELECT id, processed_at FROM outbox_events WHERE status = 'processed'
                  ORDER BY processed_at LIMIT %s) e
            """,
            [student.pk, OLD_WITH_NOTIFICATION],
        )


def _event(student, **fields) -> OutboxEvent:
    payload = contract_payload("booking.confirmed", student=student)
    return OutboxEvent(
        aggregate_type=aggregate_type_for("booking.confirmed"),
        aggregate_id=payload["booking_id"],
        event_type="booking.confirmed",
        payload=payload,
        occurred_at=clock.now(),
        **fields,
    )


class Producer(threading.Thread):
    """Commits a few pending events every 20 ms (as the API would) until told to stop."""

    def __init__(self, students):
        super().__init__(daemon=True)
        self.students = students
        self.ids: list = []
        self.stop_event = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            n = 0
            while not self.stop_event.is_set():
                batch = [_event(self.students[(n + i) % len(self.students)]) for i in range(5)]
                self.ids += [event.pk for event in OutboxEvent.objects.bulk_create(batch)]
                n += 5
                time.sleep(0.02)
        except BaseException as exc:  # surfaced by the test
            self.error = exc
        finally:
            connections.close_all()


def test_prune_beside_a_working_worker_and_another_prune(tmp_logs):
    students = StudentFactory.create_batch(10)
    _old_processed_events(students[0])
    now = clock.now()
    recent = OutboxEvent.objects.bulk_create(
        [_event(students[0], status="processed", processed_at=now - timedelta(days=29)) for _ in range(300)]
    )
    dead_letters = OutboxEvent.objects.bulk_create(
        # Old and failed past every retry: the worker leaves them, and so must the prune.
        [_event(students[1], status="failed", retries=99, error_message="smtp down") for _ in range(50)]
    )
    OutboxEvent.objects.filter(pk__in=[e.pk for e in dead_letters]).update(
        occurred_at=now - timedelta(days=90), updated_at=now - timedelta(days=90)
    )
    old_pending = OutboxEvent.objects.bulk_create([_event(students[2]) for _ in range(100)])
    OutboxEvent.objects.filter(pk__in=[e.pk for e in old_pending]).update(occurred_at=now - timedelta(days=45))

    env = child_env()
    worker_argv = ["run_outbox_worker", "--loop", "--poll-seconds", "0.1", "--batch-size", "50"]
    worker = manage_py(*worker_argv, env=env, log=tmp_logs / "worker.out", err_log=tmp_logs / "worker.err")
    producer = Producer(students)
    prunes = []
    try:
        assert wait_for(lambda: "loop started" in tail(tmp_logs / "worker.err"), timeout=60), tail(
            tmp_logs / "worker.err"
        )
        producer.start()
        prune_started = clock.now()
        for n in range(2):
            argv = ["prune_outbox_events", "--batch-size", "1000"]
            prunes.append(
                manage_py(*argv, env=env, log=tmp_logs / f"prune-{n}.out", err_log=tmp_logs / f"prune-{n}.err")
            )
        codes = [prune.wait(timeout=180) for prune in prunes]
        prune_finished = clock.now()
        producer.stop_event.set()
        producer.join(timeout=30)
        assert producer.error is None, producer.error
        produced = set(producer.ids)
        live = produced | {e.pk for e in old_pending}
        assert wait_for(
            lambda: OutboxEvent.objects.filter(pk__in=live, status="processed").count() == len(live),
            timeout=60,
            interval=0.2,
        ), tail(tmp_logs / "worker.err")
        assert worker.poll() is None, tail(tmp_logs / "worker.err")
        worker_code = stop(worker, timeout=15)
    finally:
        producer.stop_event.set()
        for process in [worker, *prunes]:
            kill_group(process)

    logs = {path.name: tail(path) for path in tmp_logs.iterdir()}
    assert codes == [0, 0], logs
    assert worker_code == 0, logs
    for name, text in logs.items():
        assert "Traceback" not in text and "cycle failed" not in text, (name, text)

    # Every old processed event went once: the two runs split them and their counts add up.
    counts = [int(PRUNED_LINE.search((tmp_logs / f"prune-{n}.out").read_text()).group(1)) for n in range(2)]
    assert sum(counts) == OLD_PROCESSED, counts
    cutoff = now - timedelta(days=30)
    assert not OutboxEvent.objects.filter(status="processed", processed_at__lt=cutoff).exists()
    # Recent processed, failed and (formerly) pending events are all still there.
    assert OutboxEvent.objects.filter(pk__in=[e.pk for e in recent], status="processed").count() == 300
    assert OutboxEvent.objects.filter(pk__in=[e.pk for e in dead_letters], status="failed", retries=99).count() == 50
    assert OutboxEvent.objects.filter(pk__in=live).count() == len(live)
    # The worker really worked while the prunes ran, and made each live event's notification once.
    during = OutboxEvent.objects.filter(
        pk__in=produced, processed_at__gte=prune_started, processed_at__lte=prune_finished
    )
    assert during.exists(), (prune_started, prune_finished, logs)
    live_pairs = list(Notification.objects.filter(outbox_event__in=live).values_list("outbox_event_id", "user_id"))
    assert len(live_pairs) == len(set(live_pairs)) == len(live)
    # The pruned events' notifications are kept, unlinked.
    assert Notification.objects.filter(outbox_event__isnull=True, body="old news").count() == OLD_WITH_NOTIFICATION
    print(f"\nprune shares of {OLD_PROCESSED} events: {counts}; produced while pruning: {len(produced)}")
