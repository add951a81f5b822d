import re

from rest_framework import serializers

from apps.common.fields import OffsetDateTimeField, StrictUUIDField
from apps.scheduling.models import AvailabilitySlot


class SlotSerializer(serializers.ModelSerializer):
    teacher_id = StrictUUIDField(read_only=True)
    created_by_admin_id = StrictUUIDField(read_only=True, allow_null=True)

    class Meta:
        model = AvailabilitySlot
        fields = ["id", "teacher_id", "created_by_admin_id", "start_at", "end_at", "status", "created_at", "updated_at"]
        read_only_fields = fields


class SlotCreateSerializer(serializers.Serializer):
    teacher_id = StrictUUIDField()
    start_at = OffsetDateTimeField()
    end_at = OffsetDateTimeField()


# An unencoded "+" in a query string arrives as a space: "...T10:00:00 02:00".
_SPACE_OFFSET = re.compile(r"^(\S+T\S+) (\d{2}(?::?\d{2})?)$")


class _QueryOffsetDateTimeField(OffsetDateTimeField):
    def to_internal_value(self, value):
        if isinstance(value, str):
            value = _SPACE_OFFSET.sub(r"\1+\2", value.strip())
        return super().to_internal_value(value)


class OpenSlotQuerySerializer(serializers.Serializer):
    """Query of `GET slots/open`: `teacher_id`, `from`, `to` (all optional)."""

    teacher_id = StrictUUIDField(required=False)

    def get_fields(self):
        fields = super().get_fields()
        # `from` is a Python keyword, so these two are added here rather than declared
        fields["from"] = _QueryOffsetDateTimeField(required=False)
        fields["to"] = _QueryOffsetDateTimeField(required=False)
        return fields

    def validate(self, attrs):
        start_from, start_to = attrs.get("from"), attrs.get("to")
        if start_from is not None and start_to is not None and start_from > start_to:
            raise serializers.ValidationError({"to": ["Must not be earlier than from."]})
        return attrs
