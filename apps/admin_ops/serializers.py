"""Admin-operations API shapes (SPEC §3 Admin operations)."""

from rest_framework import serializers

from apps.admin_ops.models import AdminAction
from apps.common.fields import JsonObjectField, StrictCharField, StrictUUIDField


class AdminActionCreateSerializer(serializers.Serializer):
    action = StrictCharField(min_length=1, max_length=128)
    target_type = StrictCharField(min_length=1, max_length=64)
    target_id = StrictUUIDField(required=False, allow_null=True, default=None)
    payload = JsonObjectField(required=False, default=dict)


class AdminActionSerializer(serializers.ModelSerializer):
    admin_id = StrictUUIDField(read_only=True)

    class Meta:
        model = AdminAction
        fields = ["id", "admin_id", "action", "target_type", "target_id", "payload", "created_at", "updated_at"]
        read_only_fields = fields


def _money():
    return serializers.DecimalField(max_digits=None, decimal_places=2, read_only=True)


class KpiOverviewSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField(read_only=True)
    users_total = serializers.IntegerField(read_only=True)
    users_students = serializers.IntegerField(read_only=True)
    users_teachers = serializers.IntegerField(read_only=True)
    users_admins = serializers.IntegerField(read_only=True)
    bookings_total = serializers.IntegerField(read_only=True)
    bookings_hold = serializers.IntegerField(read_only=True)
    bookings_confirmed = serializers.IntegerField(read_only=True)
    bookings_canceled = serializers.IntegerField(read_only=True)
    bookings_expired = serializers.IntegerField(read_only=True)
    lessons_total = serializers.IntegerField(read_only=True)
    lessons_scheduled = serializers.IntegerField(read_only=True)
    lessons_completed = serializers.IntegerField(read_only=True)
    lessons_canceled = serializers.IntegerField(read_only=True)
    lessons_no_show = serializers.IntegerField(read_only=True)
    payments_total = serializers.IntegerField(read_only=True)
    payments_pending = serializers.IntegerField(read_only=True)
    payments_succeeded = serializers.IntegerField(read_only=True)
    payments_failed = serializers.IntegerField(read_only=True)
    payments_refunded = serializers.IntegerField(read_only=True)
    payments_succeeded_amount = _money()
    payments_refunded_amount = _money()
    payments_net_amount = _money()
    packages_total = serializers.IntegerField(read_only=True)
    packages_active = serializers.IntegerField(read_only=True)
    packages_expired = serializers.IntegerField(read_only=True)
    packages_canceled = serializers.IntegerField(read_only=True)


class OpsOverviewSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField(read_only=True)
    max_retries = serializers.IntegerField(read_only=True)
    outbox_pending = serializers.IntegerField(read_only=True)
    outbox_failed_retryable = serializers.IntegerField(read_only=True)
    outbox_failed_dead_letter = serializers.IntegerField(read_only=True)
    notifications_failed = serializers.IntegerField(read_only=True)
    stale_booking_holds = serializers.IntegerField(read_only=True)
    overdue_active_packages = serializers.IntegerField(read_only=True)
