"""Admin-operations API shapes (SPEC §3 Admin operations, §8.4 sales)."""

import datetime as dt

from rest_framework import serializers

from apps.admin_ops.models import AdminAction
from apps.common.fields import JsonObjectField, QueryOffsetDateTimeField, StrictCharField, StrictUUIDField
from apps.identity.models import Role
from apps.identity.serializers import EMAIL_MAX_LENGTH

# The longest period one sales query covers: a (leap) year.
SALES_MAX_DAYS = 366
SEARCH_HELP = "Case-insensitive substring"


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


class KpiSalesQuerySerializer(serializers.Serializer):
    """Query of `GET /kpi/sales`: `from` (inclusive) and `to` (exclusive), both required, with offsets."""

    def get_fields(self):
        fields = super().get_fields()
        # `from` is a Python keyword, so the two bounds are added here rather than declared.
        fields["from"] = QueryOffsetDateTimeField(help_text="Start of the period, inclusive (with offset)")
        fields["to"] = QueryOffsetDateTimeField(
            help_text=f"End of the period, exclusive (with offset); after from, at most {SALES_MAX_DAYS} days later"
        )
        return fields

    def validate(self, attrs):
        start, end = attrs["from"], attrs["to"]
        if end <= start:
            raise serializers.ValidationError({"to": ["Must be later than from."]})
        if end - start > dt.timedelta(days=SALES_MAX_DAYS):
            raise serializers.ValidationError({"to": [f"The period may be at most {SALES_MAX_DAYS} days."]})
        return attrs


class KpiSalesSerializer(serializers.Serializer):
    generated_at = serializers.DateTimeField(read_only=True)
    payments_succeeded_count = serializers.IntegerField(read_only=True)
    payments_succeeded_amount = _money()
    payments_refunded_count = serializers.IntegerField(read_only=True)
    payments_refunded_amount = _money()
    payments_net_amount = _money()
    packages_created = serializers.IntegerField(read_only=True)
    packages_created_paid = serializers.IntegerField(read_only=True)
    packages_paid_conversion_rate = serializers.DecimalField(
        max_digits=3, decimal_places=2, read_only=True, help_text='"0.00".."1.00"'
    )

    def get_fields(self):
        fields = super().get_fields()
        # `from` is a Python keyword: the period's bounds are added here, right after generated_at.
        period = {
            "generated_at": fields.pop("generated_at"),
            "from": serializers.DateTimeField(read_only=True),
            "to": serializers.DateTimeField(read_only=True),
        }
        return period | fields


# --- people (SPEC §8.1) and the teacher roster (§8.2) -----------------------------------------


def _search_field(matches: str) -> serializers.CharField:
    # As long as the longest column it searches; DRF's CharField refuses NUL characters (a 500 in PostgreSQL).
    return serializers.CharField(
        required=False, allow_blank=True, max_length=EMAIL_MAX_LENGTH, help_text=f"{SEARCH_HELP} of {matches}."
    )


class AdminUserListQuerySerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices, required=False)
    is_active = serializers.BooleanField(required=False)
    q = _search_field("email or full name")


class UserRoleSerializer(serializers.Serializer):
    role = serializers.ChoiceField(choices=Role.choices)


class AdminTeacherListQuerySerializer(serializers.Serializer):
    is_approved = serializers.BooleanField(
        required=False, help_text="false also lists teachers who have no profile yet."
    )
    q = _search_field("email, full name or display name")


class AdminTeacherSerializer(serializers.Serializer):
    """One teacher user in the roster (`apps.admin_ops.selectors.admin_teacher_list` rows)."""

    teacher_id = serializers.UUIDField(source="id", read_only=True)
    profile_id = serializers.UUIDField(read_only=True, allow_null=True)
    email = serializers.CharField(read_only=True)
    full_name = serializers.CharField(read_only=True)
    display_name = serializers.CharField(read_only=True, allow_null=True)
    is_approved = serializers.BooleanField(read_only=True)
    is_active = serializers.BooleanField(read_only=True)
    upcoming_lessons = serializers.IntegerField(read_only=True)
    completed_lessons = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
