from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.common.fields import StrictUUIDField
from apps.notifications.channels import channel_names
from apps.notifications.models import Notification, NotificationStatus


class NotificationSerializer(serializers.ModelSerializer):
    user_id = StrictUUIDField(read_only=True)

    class Meta:
        model = Notification
        fields = ["id", "user_id", "channel", "title", "body", "status", "sent_at", "created_at", "updated_at"]
        read_only_fields = fields


@extend_schema_field({"type": "string", "enum": channel_names(), "default": "email"})
class ChannelField(serializers.CharField):
    """A delivery channel name; the schema lists the registered channels."""


class NotificationCreateSerializer(serializers.Serializer):
    user_id = StrictUUIDField()
    channel = ChannelField(default="email", max_length=32)
    title = serializers.CharField(min_length=1, max_length=255)
    body = serializers.CharField(min_length=1)

    def validate_channel(self, value: str) -> str:
        if value not in channel_names():
            raise serializers.ValidationError(f"Must be one of: {', '.join(channel_names())}.")
        return value


class NotificationStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=NotificationStatus.values)


class DeliveryMetricsSerializer(serializers.Serializer):
    notifications_total = serializers.IntegerField()
    notifications_pending = serializers.IntegerField()
    notifications_sent = serializers.IntegerField()
    notifications_failed = serializers.IntegerField()
    outbox_total = serializers.IntegerField()
    outbox_pending = serializers.IntegerField()
    outbox_processed = serializers.IntegerField()
    outbox_failed = serializers.IntegerField()
    outbox_retryable_failed = serializers.IntegerField()
    outbox_dead_letter = serializers.IntegerField()
    max_retries = serializers.IntegerField()
