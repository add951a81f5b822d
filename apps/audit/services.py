"""The audit-log and outbox writers every domain write calls inside its transaction."""

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from django.db import transaction

from apps.audit.models import AuditLog, OutboxEvent
from apps.common import clock


def _require_transaction(what: str) -> None:
    # A row written outside the caller's transaction could survive a rollback
    # of the change it describes (or vanish while the change commits).
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(f"{what} must be written inside the domain write's transaction.atomic().")


def audit_log_record(
    *, actor, action: str, entity_type: str, entity_id=None, payload: dict[str, Any] | None = None
) -> AuditLog:
    """Record who did what; call inside the transaction of the change itself."""
    _require_transaction("An audit log")
    return AuditLog.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        payload=payload or {},
    )


def outbox_event_add(
    *, aggregate_type: str, aggregate_id, event_type: str, payload: dict[str, Any] | None = None
) -> OutboxEvent:
    """Queue a domain event for the worker; call inside the transaction of the change."""
    _require_transaction("An outbox event")
    return OutboxEvent.objects.create(
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        event_type=event_type,
        payload=payload or {},
        occurred_at=clock.now(),
    )


def outbox_events_add_many(
    *, aggregate_type: str, event_type: str, events: Iterable[tuple[UUID, dict[str, Any]]]
) -> list[OutboxEvent]:
    """Queue many events of one type, `(aggregate_id, payload)` each, in one INSERT, inside the change's transaction."""
    _require_transaction("An outbox event")
    occurred_at = clock.now()
    return OutboxEvent.objects.bulk_create(
        OutboxEvent(
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            event_type=event_type,
            payload=payload,
            occurred_at=occurred_at,
        )
        for aggregate_id, payload in events
    )


def audit_logs_record_many(
    *, actor, action: str, entity_type: str, entries: Iterable[tuple[UUID, dict[str, Any]]]
) -> list[AuditLog]:
    """Record one action on many entities, `(entity_id, payload)` each, in one INSERT, in the change's transaction."""
    _require_transaction("An audit log")
    actor = actor if getattr(actor, "pk", None) else None
    return AuditLog.objects.bulk_create(
        AuditLog(actor=actor, action=action, entity_type=entity_type, entity_id=entity_id, payload=payload)
        for entity_id, payload in entries
    )


def audit_log_create(
    *, actor, action: str, entity_type: str, entity_id=None, payload: dict[str, Any] | None = None
) -> AuditLog:
    """Record an audit entry an admin writes by hand (`POST /audit/logs`), in its own transaction."""
    with transaction.atomic():
        return audit_log_record(
            actor=actor, action=action, entity_type=entity_type, entity_id=entity_id, payload=payload
        )
