"""Audit API shapes (SPEC §3 Audit): thin input validation and explicit output fields."""

from rest_framework import serializers

from apps.audit.models import AuditLog, OutboxEvent
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
