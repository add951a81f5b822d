"""Booking shapes (SPEC §3 Booking) and the inputs of its endpoints."""

from rest_framework import serializers

from apps.booking.models import Booking, BookingStatus
from apps.common.fields import StrictUUIDField

CANCELLATION_REASON_MAX_LENGTH = 2000


class BookingSerializer(serializers.ModelSerializer):
    slot_id = StrictUUIDField(read_only=True)
    student_id = StrictUUIDField(read_only=True)
    teacher_id = StrictUUIDField(read_only=True)
    package_id = StrictUUIDField(read_only=True)
    rescheduled_from_booking_id = StrictUUIDField(read_only=True, allow_null=True)

    class Meta:
        model = Booking
        fields = [
            "id",
            "slot_id",
            "student_id",
            "teacher_id",
            "package_id",
            "status",
            "hold_expires_at",
            "confirmed_at",
            "canceled_at",
            "cancellation_reason",
            "refund_returned",
            "rescheduled_from_booking_id",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class BookingHoldSerializer(serializers.Serializer):
    slot_id = StrictUUIDField()
    package_id = StrictUUIDField()


class BookingCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=CANCELLATION_REASON_MAX_LENGTH, default=None
    )


class BookingRescheduleSerializer(serializers.Serializer):
    new_slot_id = StrictUUIDField()


class BookingListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=BookingStatus.choices, required=False, allow_blank=True)


class HoldsExpiredSerializer(serializers.Serializer):
    expired = serializers.IntegerField()


class TeacherStudentSerializer(serializers.Serializer):
    """A row of `GET /booking/teacher/students`: a student of the caller and their lessons together."""

    student_id = StrictUUIDField(source="id", read_only=True)
    email = serializers.EmailField(read_only=True)
    full_name = serializers.CharField(read_only=True)
    lessons_completed = serializers.IntegerField(read_only=True)
    lessons_upcoming = serializers.IntegerField(read_only=True)
    last_lesson_at = serializers.DateTimeField(read_only=True, allow_null=True)
