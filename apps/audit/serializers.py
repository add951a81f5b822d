"""Audit API shapes (SPEC §3 Audit): thin input validation and explicit output fields."""

from rest_framework import serializers

from apps.audit.models import AuditLog, OutboxEvent


class StrictCharField(serializers.CharField):
    """A CharField that refuses numbers and booleans instead of turning them into text."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class JsonObjectField(serializers.JSONField):
    """A JSON object (`{...}`); arrays, strings, numbers and null are refused."""

    default_error_messages = {"not_an_object": "Must be a JSON object."}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            self.fail("not_an_object")
        return super().to_internal_value(data)


class AuditLogCreateSerializer(serializers.Serializer):
    action = StrictCharField(min_length=1, max_length=128)
    entity_type = StrictCharField(min_length=1, max_length=64)
    entity_id = serializers.UUIDField(required=False, allow_null=True, default=None)
    payload = JsonObjectField(required=False, default=dict)


class AuditLogSerializer(serializers.ModelSerializer):
    actor_id = serializers.UUIDField(read_only=True, allow_null=True)

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
