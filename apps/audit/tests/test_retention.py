"""Outbox retention: `outbox_events_prune` and `manage.py prune_outbox_events` (SPEC §8.6)."""

from datetime import timedelta
from io import StringIO
from types import SimpleNamespace

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from apps.audit import services
from apps.audit.models import OutboxEvent
from apps.audit.tests.factories import OutboxEventFactory
from apps.common import clock as clock_module

pytestmark = pytest.mark.django_db

Status = OutboxEvent.Status


def _events(count: int, *, status: str, processed_days_ago: float | None, retries: int = 0) -> set:
    now = clock_module.now()
    processed_at = None if processed_days_ago is None else now - timedelta(days=processed_days_ago)
    return {OutboxEventFactory(status=status, processed_at=processed_at, retries=retries).pk for _ in range(count)}


def _remaining(ids: set) -> set:
    return set(OutboxEvent.objects.filter(pk__in=ids).values_list("pk", flat=True))


def test_prunes_only_processed_events_processed_before_the_cutoff():
    old_processed = _events(5, status=Status.PROCESSED, processed_days_ago=40)
    recent_processed = _events(3, status=Status.PROCESSED, processed_days_ago=5)
    old_pending = _events(2, status=Status.PENDING, processed_days_ago=None)
    OutboxEvent.objects.filter(pk__in=old_pending).update(occurred_at=clock_module.now() - timedelta(days=90))
    # A failed event never has a processed_at in practice; give one anyway: status alone must decide.
    old_failed = _events(2, status=Status.FAILED, processed_days_ago=40, retries=9)

    pruned = services.outbox_events_prune(processed_before=clock_module.now() - timedelta(days=30))

    assert pruned == 5
    assert _remaining(old_processed) == set()
    assert _remaining(recent_processed) == recent_processed
    assert _remaining(old_pending) == old_pending
    assert _remaining(old_failed) == old_failed
    assert set(OutboxEvent.objects.filter(pk__in=old_failed).values_list("retries", flat=True)) == {9}


def test_works_in_batches_one_short_transaction_each():
    _events(10, status=Status.PROCESSED, processed_days_ago=40)

    with CaptureQueriesContext(connection) as queries:
        pruned = services.outbox_events_prune(processed_before=clock_module.now(), batch_size=3)

    assert pruned == 10
    claims = [q["sql"] for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    assert len(claims) == 5  # 3 + 3 + 3 + 1, then an empty look that ends it
    assert all("SKIP LOCKED" in sql and "LIMIT 3" in sql for sql in claims)
    savepoints = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("SAVEPOINT")]
    assert len(savepoints) == 5  # one transaction per batch (a savepoint inside the test's transaction)
    assert not OutboxEvent.objects.exists()


def test_nothing_to_prune_is_zero():
    _events(2, status=Status.PROCESSED, processed_days_ago=1)

    assert services.outbox_events_prune(processed_before=clock_module.now() - timedelta(days=30)) == 0
    assert OutboxEvent.objects.count() == 2


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError):
        services.outbox_events_prune(processed_before=clock_module.now(), batch_size=0)


def test_command_defaults_to_30_days_and_prints_the_count(clock):
    older = _events(4, status=Status.PROCESSED, processed_days_ago=30.1)
    younger = _events(2, status=Status.PROCESSED, processed_days_ago=29.9)
    out = StringIO()

    call_command("prune_outbox_events", stdout=out)

    assert out.getvalue().startswith("Pruned 4 processed outbox events older than 30 days")
    assert _remaining(older) == set()
    assert _remaining(younger) == younger

    clock.advance(days=1)
    out = StringIO()
    call_command("prune_outbox_events", "--older-than-days", "30", "--batch-size", "1", stdout=out)
    assert out.getvalue().startswith("Pruned 2 processed outbox events")
    assert not OutboxEvent.objects.exists()


def test_command_takes_the_age_in_days():
    _events(3, status=Status.PROCESSED, processed_days_ago=8)
    out = StringIO()

    call_command("prune_outbox_events", "--older-than-days", "7", stdout=out)

    assert "Pruned 3 " in out.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than-days", "0"], "--older-than-days must be at least 1"),
        (["--older-than-days", "-3"], "--older-than-days must be at least 1"),
        (["--batch-size", "0"], "--batch-size must be between 1 and 50000"),
    ],
)
def test_command_refuses_nonsense_and_deletes_nothing(args, message):
    _events(2, status=Status.PROCESSED, processed_days_ago=400)

    with pytest.raises(CommandError, match=message):
        call_command("prune_outbox_events", *args, stdout=StringIO())

    assert OutboxEvent.objects.count() == 2


def test_a_relation_that_is_not_set_null_stops_the_prune(monkeypatch):
    """Should someone point a CASCADE (or PROTECT) key at outbox events, retention must not decide for them."""
    _events(2, status=Status.PROCESSED, processed_days_ago=40)
    cascade = SimpleNamespace(
        on_delete=models.CASCADE,
        related_model=SimpleNamespace(_meta=SimpleNamespace(label="reports.Digest")),
        field=SimpleNamespace(name="outbox_event"),
    )
    monkeypatch.setattr(OutboxEvent._meta, "related_objects", (cascade,))

    with pytest.raises(RuntimeError, match=r"reports\.Digest\.outbox_event must be SET_NULL"):
        services.outbox_events_prune(processed_before=clock_module.now())

    assert OutboxEvent.objects.count() == 2
