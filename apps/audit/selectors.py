"""Reads of the audit trail and the outbox."""

from django.db.models import QuerySet

from apps.audit.models import AuditLog, OutboxEvent

OUTBOX_PENDING_DEFAULT_LIMIT = 100
OUTBOX_PENDING_MAX_LIMIT = 1000


def audit_log_list(*, action: str | None = None, entity_type: str | None = None) -> QuerySet[AuditLog]:
    """Audit logs newest first; `action` and `entity_type` are exact-match filters when given."""
    queryset = AuditLog.objects.order_by("-created_at", "-id")
    if action:
        queryset = queryset.filter(action=action)
    if entity_type:
        queryset = queryset.filter(entity_type=entity_type)
    return queryset


def outbox_pending_list(*, limit: int = OUTBOX_PENDING_DEFAULT_LIMIT) -> list[OutboxEvent]:
    """Up to `limit` pending outbox events in the order the worker takes them: oldest first."""
    return list(OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).order_by("occurred_at", "id")[:limit])
