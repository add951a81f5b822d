"""Audit API shapes (SPEC §3 Audit): thin input validation and explicit output fields."""

from django.conf import settings
from rest_framework import serializers

from apps.audit.models import AuditLog, OutboxEvent
from apps.audit.selectors import OUTBOX_PENDING_DEFAULT_LIMIT, OUTBOX_PENDING_MAX_LIMIT
from apps.common.fields import JsonObjectField, StrictCharField, StrictUUIDField


class AuditLogListQuerySerializer(serializers.Serializer):
    """The list's exact-match filters; DRF's CharField refuses NUL characters (a 500 in PostgreSQL otherwise)."""

    action = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    entity_type = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)


class AuditLogCreateSerializer(serializers.Serializer):
    action = StrictCharField(min_length=1, max_length=128)
    entity_type = StrictCharField(min_length=1, max_length=64)
    entity_id = StrictUUIDField(required=False, allow_null=True, default=None)
    payload = JsonObjectField(required=False, default=dict)


class AuditLogSerializer(serializers.ModelSerializer):
    actor_id = StrictUUIDField(read_only=True, allow_null=True)

    class Meta:
        model = AuditLog
        fields = ["id", "actor_id", "action", "entity_type", "entity_id", "payload", "created_at", "updated_at"]
        read_only_fields = fields


class OutboxEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = OutboxEvent
        fields = [
            "id",
            "aggregate_type",
            "aggregate_id",
            "event_type",
            "payload",
            "status",
            "occurred_at",
            "processed_at",
            "retries",
            "error_message",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OutboxPendingQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(
        min_value=1,
        max_value=OUTBOX_PENDING_MAX_LIMIT,
        default=OUTBOX_PENDING_DEFAULT_LIMIT,
        help_text=f"1..{OUTBOX_PENDING_MAX_LIMIT}, default {OUTBOX_PENDING_DEFAULT_LIMIT}",
    )


class MaxRetriesQuerySerializer(serializers.Serializer):
    """`?max_retries=` of the outbox overviews: failed events below it are retryable, the rest dead letters."""

    max_retries = serializers.IntegerField(
        min_value=1,
        max_value=100,
        default=settings.OUTBOX_WORKER_MAX_RETRIES,
        help_text="Failed outbox events with retries below this are retryable, the rest dead-lettered "
        "(1..100; default OUTBOX_WORKER_MAX_RETRIES, 5).",
    )
