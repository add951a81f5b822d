"""Input and output shapes of the billing API (SPEC §3 Billing)."""

from decimal import Decimal

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.billing.models import LessonPackage, Payment, PaymentStatus, Plan
from apps.billing.services import (
    CURRENCY_CODE_RE,
    MAX_LESSONS_PER_PACKAGE,
    MAX_PAYMENT_AMOUNT,
    MAX_PLAN_VALIDITY_DAYS,
    PLAN_NAME_MAX_LENGTH,
)
from apps.common.fields import OffsetDateTimeField, StrictCharField, StrictUUIDField


class PackageSerializer(serializers.ModelSerializer):
    student_id = StrictUUIDField(read_only=True)
    expires_at = OffsetDateTimeField(read_only=True)
    plan_id = StrictUUIDField(read_only=True, allow_null=True)
    price = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True, allow_null=True)

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
            "plan_id",
            "price",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class PackageCreateSerializer(serializers.Serializer):
    """`{student_id, lessons_total, expires_at}` (by hand) or `{student_id, plan_id}` (from a plan), never both."""

    student_id = StrictUUIDField()
    lessons_total = serializers.IntegerField(min_value=1, max_value=MAX_LESSONS_PER_PACKAGE, required=False)
    expires_at = OffsetDateTimeField(required=False)
    plan_id = StrictUUIDField(
        required=False, help_text="Sell from this active plan: its lessons, now + validity_days, its price."
    )

    def validate(self, attrs):
        if "plan_id" in attrs:
            mixed = [name for name in ("lessons_total", "expires_at") if name in attrs]
            if mixed:
                raise serializers.ValidationError(
                    {"plan_id": [f"Give either plan_id, or lessons_total and expires_at; not both ({mixed[0]})."]}
                )
            return attrs
        missing = {name: ["This field is required."] for name in ("lessons_total", "expires_at") if name not in attrs}
        if missing:
            raise serializers.ValidationError(missing)
        return attrs


class PackageCreateSchema(OpenApiSerializerExtension):
    """The OpenAPI document states the two forms of `POST /packages`: exactly one of them."""

    target_class = PackageCreateSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["oneOf"] = [
            {"required": ["lessons_total", "expires_at"], "not": {"required": ["plan_id"]}},
            {
                "required": ["plan_id"],
                "not": {"anyOf": [{"required": ["lessons_total"]}, {"required": ["expires_at"]}]},
            },
        ]
        return schema


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
            "refunded_at",
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


@extend_schema_field({"type": "string", "pattern": r"^[A-Za-z]{3}$", "example": "USD"})
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


# --- plans ---


def _validate_currency_code(value: str) -> str:
    if not CURRENCY_CODE_RE.fullmatch(value):
        raise serializers.ValidationError("Must be a 3-letter currency code, e.g. USD.")
    return value.upper()


class PlanSerializer(serializers.ModelSerializer):
    price = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)

    class Meta:
        model = Plan
        fields = ["id", "name", "lessons_total", "price", "currency", "validity_days", "is_active"]
        read_only_fields = fields


# A name must hold something besides white space (DRF trims it, then refuses a blank one).
@extend_schema_field({"type": "string", "minLength": 1, "maxLength": PLAN_NAME_MAX_LENGTH, "pattern": r"\S"})
class PlanNameField(StrictCharField):
    pass


class PlanCreateSerializer(serializers.Serializer):
    name = PlanNameField(max_length=PLAN_NAME_MAX_LENGTH)
    lessons_total = serializers.IntegerField(min_value=1, max_value=MAX_LESSONS_PER_PACKAGE)
    price = AmountInputField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"), max_value=MAX_PAYMENT_AMOUNT)
    currency = CurrencyInputField(default="USD", trim_whitespace=False, max_length=3)
    validity_days = serializers.IntegerField(min_value=1, max_value=MAX_PLAN_VALIDITY_DAYS)
    is_active = serializers.BooleanField(default=True)

    def validate_currency(self, value: str) -> str:
        return _validate_currency_code(value)


class PlanUpdateSerializer(PlanCreateSerializer):
    """PATCH: any of the create fields, with the same rules; none required, no defaults."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
            field.default = serializers.empty
        return fields
