from rest_framework import serializers

from apps.common.fields import StrictUUIDField
from apps.teachers.models import TeacherProfile


class TeacherProfileSerializer(serializers.ModelSerializer):
    user_id = StrictUUIDField(read_only=True)

    class Meta:
        model = TeacherProfile
        fields = ["id", "user_id", "display_name", "bio", "experience_years", "is_approved", "created_at", "updated_at"]
        read_only_fields = fields


class TeacherProfileCreateSerializer(serializers.Serializer):
    user_id = StrictUUIDField()
    display_name = serializers.CharField(min_length=2, max_length=128)
    bio = serializers.CharField(max_length=5000, allow_blank=True, required=False, default="")
    experience_years = serializers.IntegerField(min_value=0, max_value=80, required=False, default=0)


class TeacherProfileUpdateSerializer(serializers.Serializer):
    """Every field optional; `user_id` and other read-only fields are ignored."""

    display_name = serializers.CharField(min_length=2, max_length=128, required=False)
    bio = serializers.CharField(max_length=5000, allow_blank=True, required=False)
    experience_years = serializers.IntegerField(min_value=0, max_value=80, required=False)
    is_approved = serializers.BooleanField(required=False)
