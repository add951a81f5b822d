"""Booking shapes (SPEC §3 Booking) and the inputs of its endpoints."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.booking.models import Booking, BookingStatus
from apps.common.fields import StrictUUIDField
from apps.scheduling.models import SlotStatus
from apps.scheduling.serializers import OpenSlotQuerySerializer, SlotSerializer

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


# --- cascades: slot cancel, slots with their booking, package cancel, teacher disable ------------


class SlotCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=CANCELLATION_REASON_MAX_LENGTH, default=None
    )


class SlotBookingSerializer(serializers.Serializer):
    """A slot's active booking, as `GET /scheduling/slots/my` shows it."""

    id = StrictUUIDField()
    status = serializers.ChoiceField(choices=[BookingStatus.HOLD, BookingStatus.CONFIRMED])
    student_id = StrictUUIDField()


@extend_schema_field(SlotBookingSerializer(allow_null=True))
class ActiveBookingField(serializers.Field):
    """`{id, status, student_id}` of the slot's hold or confirmed booking, or null.

    Read from the three columns `slot_list_for` annotates; `row_sources` lets
    the list render straight from `values_list()` rows (apps/common/rows.py).
    """

    row_sources = ("active_booking_id", "active_booking_status", "active_booking_student_id")

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    @staticmethod
    def from_row(booking_id, status, student_id):
        if booking_id is None:
            return None
        return {"id": str(booking_id), "status": status, "student_id": str(student_id)}

    def to_representation(self, slot):
        return self.from_row(*(getattr(slot, name) for name in self.row_sources))


class SlotWithBookingSerializer(SlotSerializer):
    booking = ActiveBookingField()

    class Meta(SlotSerializer.Meta):
        fields = [*SlotSerializer.Meta.fields, "booking"]
        read_only_fields = fields


class MySlotQuerySerializer(OpenSlotQuerySerializer):
    """Query of `GET slots/my`: `from`, `to`, `status`, `teacher_id` (all optional)."""

    status = serializers.ChoiceField(choices=SlotStatus.choices, required=False)


class PackageCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=CANCELLATION_REASON_MAX_LENGTH, default=None
    )
    force = serializers.BooleanField(required=False, default=False)


class TeacherDisableSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=CANCELLATION_REASON_MAX_LENGTH)


class TeacherDisabledSerializer(serializers.Serializer):
    teacher_id = StrictUUIDField()
    canceled_bookings = serializers.IntegerField()
    canceled_slots = serializers.IntegerField()


class TeacherStudentSerializer(serializers.Serializer):
    """A row of `GET /booking/teacher/students`: a student of the caller and their lessons together."""

    student_id = StrictUUIDField(source="id", read_only=True)
    email = serializers.EmailField(read_only=True)
    full_name = serializers.CharField(read_only=True)
    lessons_completed = serializers.IntegerField(read_only=True)
    lessons_upcoming = serializers.IntegerField(read_only=True)
    last_lesson_at = serializers.DateTimeField(read_only=True, allow_null=True)
