"""Lesson shapes (SPEC §3 Lessons) and the inputs of its endpoints."""

from rest_framework import serializers

from apps.common.fields import QueryOffsetDateTimeField, StrictUUIDField
from apps.lessons.models import Lesson, LessonStatus

TOPIC_MAX_LENGTH = 255
NOTES_MAX_LENGTH = 10000
HOMEWORK_MAX_LENGTH = 5000


class LessonSerializer(serializers.ModelSerializer):
    booking_id = StrictUUIDField(read_only=True)
    student_id = StrictUUIDField(read_only=True)
    teacher_id = StrictUUIDField(read_only=True)

    class Meta:
        model = Lesson
        fields = [
            "id",
            "booking_id",
            "student_id",
            "teacher_id",
            "scheduled_start_at",
            "scheduled_end_at",
            "status",
            "topic",
            "notes",
            "homework",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class LessonCreateSerializer(serializers.Serializer):
    booking_id = StrictUUIDField()
    topic = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=TOPIC_MAX_LENGTH)
    notes = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=NOTES_MAX_LENGTH)


class LessonUpdateSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=LessonStatus.choices, required=False)
    topic = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=TOPIC_MAX_LENGTH)
    notes = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=NOTES_MAX_LENGTH)
    homework = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=HOMEWORK_MAX_LENGTH)


class LessonListQuerySerializer(serializers.Serializer):
    """Query of `GET /lessons/my`: `from` <= scheduled_start_at < `to`, and `status` (all optional)."""

    status = serializers.ChoiceField(choices=LessonStatus.choices, required=False)

    def get_fields(self):
        fields = super().get_fields()
        # `from` is a Python keyword, so the two bounds are added here rather than declared.
        fields["from"] = QueryOffsetDateTimeField(required=False, help_text="scheduled_start_at >= from (with offset)")
        fields["to"] = QueryOffsetDateTimeField(required=False, help_text="scheduled_start_at < to (with offset)")
        return fields

    def validate(self, attrs):
        start_from, start_to = attrs.get("from"), attrs.get("to")
        if start_from is not None and start_to is not None and start_from > start_to:
            raise serializers.ValidationError({"to": ["Must not be earlier than from."]})
        return attrs


class CalendarFeedSerializer(serializers.Serializer):
    """`{url}`: the secret address of the caller's calendar feed (anyone holding it can read the calendar)."""

    url = serializers.URLField(read_only=True)
