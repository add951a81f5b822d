"""Request and response shapes of the identity endpoints (SPEC §3, Identity)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from apps.identity.models import Role, User, validate_timezone

PASSWORD_MAX_LENGTH = 256


class RegisterSerializer(serializers.Serializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(write_only=True, trim_whitespace=False, max_length=PASSWORD_MAX_LENGTH)
    timezone = serializers.CharField(max_length=64, default="UTC")
    role = serializers.ChoiceField(choices=[Role.STUDENT.value, Role.TEACHER.value], default=Role.STUDENT.value)

    def validate_timezone(self, value: str) -> str:
        try:
            validate_timezone(value)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.messages) from None
        return value


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
        fields = ["id", "email", "role", "timezone", "is_active", "created_at", "updated_at"]
        read_only_fields = fields
