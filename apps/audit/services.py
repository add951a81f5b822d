"""The audit-log and outbox writers every domain write calls inside its transaction."""

import threading
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import connection, models, transaction

from apps.audit.models import AuditLog, OutboxEvent
from apps.common import clock
from apps.common.sql import insert_statement


def _require_transaction(what: str) -> None:
    # A row written outside the caller's transaction could survive a rollback
    # of the change it describes (or vanish while the change commits).
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"{what} must be written inside the domain write's transaction.atomic().")


class _Records(threading.local):
    """The audit and outbox rows of the innermost `recorded_atomic()` block of this thread, not yet written."""

    def __init__(self):
        self.rows: list[models.Model] | None = None


_records = _Records()


@contextmanager
def recorded_atomic():
    """`transaction.atomic()` whose audit-log and outbox rows are all written in one statement, just before it ends.

    Inside it, `audit_log_record` and `outbox_event_add` queue their rows; when
    the block ends normally they are inserted together (one multi-row INSERT per
    table, both in one statement on PostgreSQL), still inside the transaction, so
    the change and its records commit or roll back as one. A block that raises
    writes none of its rows. Nested blocks share the outermost one's queue.
    """
    outer = _records.rows
    mark = len(outer) if outer is not None else 0
    with transaction.atomic():
        if outer is None:
            _records.rows = []
        try:
            yield
            if outer is None:
                _write_rows(_records.rows)
        except BaseException:
            if outer is not None:
                del outer[mark:]  # rolled back to the inner block's savepoint: its rows go too
            raise
        finally:
            if outer is None:
                _records.rows = None


def _queue_or_save(row: models.Model) -> models.Model:
    if _records.rows is not None:
        _records.rows.append(row)
    else:
        row.save(force_insert=True)
    return row


def _write_rows(rows: list[models.Model]) -> None:
    statements = [
        insert_statement(model, batch)
        for model in (OutboxEvent, AuditLog)
        if (batch := [row for row in rows if type(row) is model])
    ]
    if not statements:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(statements) == 2:
            # Data-modifying CTE: both tables in one round trip.
            (outbox_sql, outbox_params), (audit_sql, audit_params) = statements
            cursor.execute(f"WITH outbox AS ({outbox_sql}) {audit_sql}", [*outbox_params, *audit_params])
        else:
            for sql, params in statements:
                cursor.execute(sql, params)


def audit_log_record(
    *, actor, action: str, entity_type: str, entity_id=None, payload: dict[str, Any] | None = None
) -> AuditLog:
    """Record who did what; call inside the transaction of the change itself."""
    _require_transaction("An audit log")
    return _queue_or_save(
        AuditLog(
            actor=actor if getattr(actor, "pk", None) else None,
            action=action,
            entity_type=entity_type,
            entity_id=entity_id,
            payload=payload or {},
        )
    )


def outbox_event_add(
    *, aggregate_type: str, aggregate_id, event_type: str, payload: dict[str, Any] | None = None
) -> OutboxEvent:
    """Queue a domain event for the worker; call inside the transaction of the change."""
    _require_transaction("An outbox event")
    return _queue_or_save(
        OutboxEvent(
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            event_type=event_type,
            payload=payload or {},
            occurred_at=clock.now(),
        )
    )


def _queue_or_save_many(model: type[models.Model], rows: list[models.Model]) -> list[models.Model]:
    if _records.rows is not None:
        _records.rows.extend(rows)
        return rows
    return model.objects.bulk_create(rows)


def outbox_events_add_many(
    *, aggregate_type: str, event_type: str, events: Iterable[tuple[UUID, dict[str, Any]]]
) -> list[OutboxEvent]:
    """Queue many events of one type, `(aggregate_id, payload)` each, in one INSERT, inside the change's transaction."""
    _require_transaction("An outbox event")
    occurred_at = clock.now()
    return _queue_or_save_many(
        OutboxEvent,
        [
            OutboxEvent(
                aggregate_type=aggregate_type,
                aggregate_id=aggregate_id,
                event_type=event_type,
                payload=payload,
                occurred_at=occurred_at,
            )
            for aggregate_id, payload in events
        ],
    )


def audit_logs_record_many(
    *, actor, action: str, entity_type: str, entries: Iterable[tuple[UUID, dict[str, Any]]]
) -> list[AuditLog]:
    """Record one action on many entities, `(entity_id, payload)` each, in one INSERT, in the change's transaction."""
    _require_transaction("An audit log")
    actor = actor if getattr(actor, "pk", None) else None
    return _queue_or_save_many(
        AuditLog,
        [
            AuditLog(actor=actor, action=action, entity_type=entity_type, entity_id=entity_id, payload=payload)
            for entity_id, payload in entries
        ],
    )


def audit_log_create(
    *, actor, action: str, entity_type: str, entity_id=None, payload: dict[str, Any] | None = None
) -> AuditLog:
    """Record an audit entry an admin writes by hand (`POST /audit/logs`), in its own transaction."""
    with transaction.atomic():
        return audit_log_record(
            actor=actor, action=action, entity_type=entity_type, entity_id=entity_id, payload=payload
        )


OUTBOX_PRUNE_BATCH_SIZE = 2000


def _outbox_unlink(event_ids: list) -> None:
    """Null every foreign key that points at these events, as each relation declares (SET_NULL).

    Set-based, one UPDATE per relation, where Django's delete collector would
    load every event and notification as objects first. A relation declared
    any other way (CASCADE would delete users' records, PROTECT would make the
    prune fail) stops the prune until someone decides what retention means
    for it.
    """
    for relation in OutboxEvent._meta.related_objects:
        if relation.on_delete is not models.SET_NULL:
            raise RuntimeError(
                f"{relation.related_model._meta.label}.{relation.field.name} must be SET_NULL "
                "for outbox events to be pruned."
            )
        name = relation.field.name
        relation.related_model._base_manager.filter(**{f"{name}__in": event_ids}).update(**{name: None})


def outbox_events_prune(*, processed_before: datetime, batch_size: int = OUTBOX_PRUNE_BATCH_SIZE) -> int:
    """Delete `processed` outbox events whose `processed_at` is before `processed_before`; return how many.

    Retention for a table every domain write appends to. Pending and failed
    events are never touched, whatever their age. Works in batches of
    `batch_size` rows, one short transaction each, locking them with
    `SKIP LOCKED`: a worker or another prune run is never kept waiting for
    long, and two runs at once split the rows instead of queueing on them.
    Records made from a pruned event stay and lose the link
    (`Notification.outbox_event` is SET_NULL): they are the users' history.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    due = OutboxEvent.objects.filter(status=OutboxEvent.Status.PROCESSED, processed_at__lt=processed_before).order_by(
        "processed_at", "pk"
    )
    lock = {"skip_locked": True} if connection.features.has_select_for_update_skip_locked else {}
    table = connection.ops.quote_name(OutboxEvent._meta.db_table)
    pk = OutboxEvent._meta.pk
    pruned = 0
    while True:
        with transaction.atomic():
            batch = list(due.select_for_update(**lock).values_list("pk", flat=True)[:batch_size])
            if not batch:
                return pruned
            _outbox_unlink(batch)
            # One statement for the batch (the ORM's delete would load each row as an object first).
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {table} WHERE {connection.ops.quote_name(pk.column)} IN "
                    f"({', '.join(['%s'] * len(batch))})",
                    [pk.get_db_prep_value(value, connection) for value in batch],
                )
                pruned += cursor.rowcount
