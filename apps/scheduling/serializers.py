import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common.fields import OffsetDateTimeField, StrictCharField, StrictUUIDField
from apps.scheduling.models import AvailabilitySlot, WeeklySchedule
from apps.scheduling.schedule_times import (
    END_PATTERN,
    MAX_WINDOWS,
    SLOT_MINUTES_DEFAULT,
    SLOT_MINUTES_MAX,
    SLOT_MINUTES_MIN,
    START_PATTERN,
    Window,
    hhmm,
    is_time_zone,
    minutes_of,
)


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


# --- weekly schedules ----------------------------------------------------------------------------


@extend_schema_field({"type": "string", "pattern": START_PATTERN, "example": "09:00"})
class WindowStartField(StrictCharField):
    """A local wall-clock time "HH:MM", 00:00..23:59."""

    default_error_messages = {"hhmm": 'Must be a time "HH:MM" from 00:00 to 23:59.'}
    end = False

    def to_internal_value(self, data) -> int:
        minutes = minutes_of(super().to_internal_value(data), end=self.end)
        if minutes is None:
            self.fail("hhmm")
        return minutes

    def to_representation(self, value) -> str:
        return hhmm(value)


@extend_schema_field({"type": "string", "pattern": END_PATTERN, "example": "12:00"})
class WindowEndField(WindowStartField):
    """A local wall-clock time "HH:MM", 00:01..24:00 ("24:00" is the midnight that ends the day)."""

    default_error_messages = {"hhmm": 'Must be a time "HH:MM" from 00:00 to 24:00.'}
    end = True


class WindowSerializer(serializers.Serializer):
    weekday = serializers.IntegerField(min_value=0, max_value=6, help_text="0 = Monday ... 6 = Sunday")
    start = WindowStartField(source="start_minute")
    end = WindowEndField(source="end_minute")


class ScheduleSerializer(serializers.ModelSerializer):
    """A weekly schedule as the API shows it."""

    teacher_id = StrictUUIDField(read_only=True)
    windows = WindowSerializer(many=True, read_only=True)

    class Meta:
        model = WeeklySchedule
        fields = ["teacher_id", "timezone", "slot_minutes", "windows", "updated_at"]
        read_only_fields = fields


class ScheduleReplaceSerializer(serializers.Serializer):
    """PUT body. The rules across windows (end after start, no overlap, a slot long) are the service's."""

    timezone = StrictCharField(
        required=False, max_length=64, help_text="IANA time zone name; default: the teacher's own time zone"
    )
    slot_minutes = serializers.IntegerField(
        required=False, min_value=SLOT_MINUTES_MIN, max_value=SLOT_MINUTES_MAX, default=SLOT_MINUTES_DEFAULT
    )
    windows = serializers.ListField(child=WindowSerializer(), max_length=MAX_WINDOWS)

    def validate_timezone(self, value: str) -> str:
        if not is_time_zone(value):
            raise serializers.ValidationError("Must be an IANA time zone name, e.g. Europe/Berlin.")
        return value

    def validate_windows(self, value: list[dict]) -> list[Window]:
        return [Window(w["weekday"], w["start_minute"], w["end_minute"]) for w in value]


class ScheduleGenerateSerializer(serializers.Serializer):
    """POST .../schedule/generate body: local dates in the schedule's time zone, both inclusive, <= 92 days."""

    from_date = serializers.DateField()
    to_date = serializers.DateField()


class GenerateCountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    skipped_existing = serializers.IntegerField()
    skipped_past = serializers.IntegerField()
