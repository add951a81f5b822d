from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.common.models import TimeStampedModel


class NotificationStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Notification(TimeStampedModel):
    """A message to one user, created by hand or by the worker from an outbox event."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=32, default="email")
    title = models.CharField(max_length=255)
    body = models.TextField()
    status = models.CharField(max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.PENDING)
    sent_at = models.DateTimeField(null=True, blank=True)
    error_message = models.TextField(blank=True, default="")
    outbox_event = models.ForeignKey(
        "audit.OutboxEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="notifications"
    )

    class Meta:
        db_table = "notifications"
        ordering = ["-created_at", "-id"]
        constraints = [
            # The worker may see an event twice (crash, retry); the recipient never gets it twice.
            models.UniqueConstraint(
                fields=["outbox_event", "user"],
                condition=Q(outbox_event__isnull=False),
                name="notifications_once_per_event_recipient",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "sent", "failed"]), name="notifications_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notifications_user_idx"),
            models.Index(fields=["created_at"], name="notifications_pending_idx", condition=Q(status="pending")),
        ]

    def __str__(self) -> str:
        return f"{self.channel} to {self.user_id}: {self.title} [{self.status}]"
