from django.contrib import admin, messages

from apps.audit.models import OutboxEvent
from apps.common.admin import ReadOnlyAdmin
from apps.common.errors import DomainError
from apps.notifications.models import Notification, NotificationStatus
from apps.notifications.services import notification_status_update, outbox_events_requeue


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["title", "user", "channel", "status", "sent_at", "created_at"]
    list_filter = ["status", "channel"]
    search_fields = ["title", "user__email"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    raw_id_fields = ["user", "outbox_event"]
    readonly_fields = ["status", "sent_at", "error_message", "outbox_event", "created_at", "updated_at"]
    ordering = ["-created_at"]
    actions = ["deliver_again"]

    @admin.action(description="Deliver selected again (back to pending)")
    def deliver_again(self, request, queryset):
        moved = 0
        for notification_id in queryset.values_list("pk", flat=True):
            try:
                notification_status_update(
                    actor=request.user, notification_id=notification_id, status=NotificationStatus.PENDING
                )
                moved += 1
            except DomainError as exc:
                self.message_user(request, f"{notification_id}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{moved} notification(s) queued for delivery.", messages.SUCCESS)


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    # View-only: saving the form would touch updated_at and so restart an event's back-off.
    """Read-only view of the outbox; the only change an operator makes is re-queueing failed events."""

    list_display = ["event_type", "aggregate_type", "aggregate_id", "status", "retries", "occurred_at", "processed_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["event_type", "aggregate_type", "error_message"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at"]
    actions = ["requeue_selected_events"]
    readonly_fields = [
        "id",
        "aggregate_type",
        "aggregate_id",
        "event_type",
        "payload",
        "status",
        "occurred_at",
        "processed_at",
        "retries",
        "error_message",
        "created_at",
        "updated_at",
    ]

    @admin.action(description="Requeue selected events (failed ones only; retries reset)")
    def requeue_selected_events(self, request, queryset):
        count = outbox_events_requeue(actor=request.user, event_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"Requeued {count} failed event(s).", messages.SUCCESS)
