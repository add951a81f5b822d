from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from apps.common.models import TimeStampedModel


class AuditLog(TimeStampedModel):
    """Who did what to which entity; written in the same transaction as the change."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=128)
    entity_type = models.CharField(max_length=64)
    entity_id = models.UUIDField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        db_table = "audit_logs"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at"], name="audit_logs_created_idx"),
            models.Index(fields=["action", "-created_at"], name="audit_logs_action_idx"),
            models.Index(fields=["entity_type", "-created_at"], name="audit_logs_entity_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.entity_type}:{self.entity_id}"


class OutboxEvent(TimeStampedModel):
    """A domain event waiting for the notifications worker (SPEC §4)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PROCESSED = "processed"
        FAILED = "failed"

    aggregate_type = models.CharField(max_length=64)
    aggregate_id = models.UUIDField()
    event_type = models.CharField(max_length=128)
    payload = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    occurred_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)
    retries = models.PositiveIntegerField(default=0)
    error_message = models.TextField(blank=True, default="")

    class Meta:
        db_table = "outbox_events"
        ordering = ["occurred_at", "id"]
        indexes = [
            models.Index(
                fields=["occurred_at", "id"],
                name="outbox_pending_idx",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["retries", "updated_at"],
                name="outbox_failed_idx",
                condition=models.Q(status="failed"),
            ),
            models.Index(fields=["event_type"], name="outbox_event_type_idx"),
            # Retention (`prune_outbox_events`) walks processed events oldest first.
            models.Index(
                fields=["processed_at"],
                name="outbox_processed_idx",
                condition=models.Q(status="processed"),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "processed", "failed"]), name="outbox_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.aggregate_type}:{self.aggregate_id} [{self.status}]"
