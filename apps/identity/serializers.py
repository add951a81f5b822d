"""Request and response shapes of the identity endpoints (SPEC §3, Identity)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from apps.common.fields import StrictCharField
from apps.identity.models import FULL_NAME_MAX_LENGTH, Role, User, validate_timezone

PASSWORD_MAX_LENGTH = 256
EMAIL_MAX_LENGTH = 254


def _iana_timezone(value: str) -> str:
    try:
        validate_timezone(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None
    return value


def _full_name_field(**kwargs) -> StrictCharField:
    return StrictCharField(max_length=FULL_NAME_MAX_LENGTH, allow_blank=True, **kwargs)


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=EMAIL_MAX_LENGTH)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=PASSWORD_MAX_LENGTH)
    timezone = serializers.CharField(max_length=64, default="UTC")
    role = serializers.ChoiceField(choices=[Role.STUDENT.value, Role.TEACHER.value], default=Role.STUDENT.value)
    full_name = _full_name_field(default="")

    def validate_timezone(self, value: str) -> str:
        return _iana_timezone(value)


class UserUpdateSerializer(serializers.Serializer):
    """`PATCH /users/me`: only these two; any other key (role, email, is_active...) is ignored."""

    full_name = _full_name_field(required=False)
    timezone = StrictCharField(max_length=64, required=False)

    def validate_timezone(self, value: str) -> str:
        return _iana_timezone(value)


class LoginSerializer(serializers.Serializer):
    # Not an EmailField: any string is just a wrong email (401), not a hint.
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=PASSWORD_MAX_LENGTH)


class RefreshTokenSerializer(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)


class TokenPairSerializer(serializers.Serializer):
    access_token = serializers.CharField(read_only=True)
    refresh_token = serializers.CharField(read_only=True)
    token_type = serializers.ChoiceField(choices=["bearer"], read_only=True)


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "email", "full_name", "role", "timezone", "is_active", "created_at", "updated_at"]
        read_only_fields = fields
