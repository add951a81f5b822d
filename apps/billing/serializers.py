"""Input and output shapes of the billing API (SPEC §3 Billing)."""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.billing.models import LessonPackage, Payment, PaymentStatus
from apps.billing.services import CURRENCY_CODE_RE, MAX_LESSONS_PER_PACKAGE, MAX_PAYMENT_AMOUNT
from apps.common.fields import OffsetDateTimeField, StrictUUIDField


class PackageSerializer(serializers.ModelSerializer):
    student_id = StrictUUIDField(read_only=True)
    expires_at = OffsetDateTimeField(read_only=True)

    class Meta:
        model = LessonPackage
        fields = [
            "id",
            "student_id",
            "lessons_total",
            "lessons_left",
            "lessons_reserved",
            "expires_at",
            "status",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PackageCreateSerializer(serializers.Serializer):
    student_id = StrictUUIDField()
    lessons_total = serializers.IntegerField(min_value=1, max_value=MAX_LESSONS_PER_PACKAGE)
    expires_at = OffsetDateTimeField()


class ExpiredCountSerializer(serializers.Serializer):
    expired = serializers.IntegerField()


class PaymentSerializer(serializers.ModelSerializer):
    package_id = StrictUUIDField(read_only=True)
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "package_id",
            "amount",
            "currency",
            "status",
            "external_reference",
            "paid_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


# The schema DecimalField and CharField would get (any sign, any 3 characters) promises more than
# the API takes; these describe what it accepts: 0.01..999999.99 with up to two places, 3 letters.
@extend_schema_field(
    {
        "type": "string",
        "format": "decimal",
        "pattern": r"^(?:[1-9][0-9]{0,5}(?:\.[0-9]{1,2})?|0\.(?:0[1-9]|[1-9][0-9]?))$",
        "example": "49.90",
    }
)
class AmountInputField(serializers.DecimalField):
    pass


@extend_schema_field({"type": "string", "pattern": r"^[A-Za-z]{3}$", "default": "USD", "example": "USD"})
class CurrencyInputField(serializers.CharField):
    pass


class PaymentCreateSerializer(serializers.Serializer):
    package_id = StrictUUIDField()
    # DRF's DecimalField refuses NaN/Infinity, more than 2 places and too many digits.
    amount = AmountInputField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"), max_value=MAX_PAYMENT_AMOUNT)
    currency = CurrencyInputField(default="USD", trim_whitespace=False, max_length=3)
    external_reference = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=255)

    def validate_currency(self, value: str) -> str:
        if not CURRENCY_CODE_RE.fullmatch(value):
            raise serializers.ValidationError("Must be a 3-letter currency code, e.g. USD.")
        return value.upper()


class PaymentStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=PaymentStatus.choices)


class PaymentListQuerySerializer(serializers.Serializer):
    package_id = StrictUUIDField(required=False)
