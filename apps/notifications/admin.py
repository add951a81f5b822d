from django.conf import settings
from django.contrib import admin, messages

from apps.audit.models import OutboxEvent
from apps.common.admin import ReadOnlyAdmin, person
from apps.common.errors import DomainError
from apps.notifications.models import Notification, NotificationStatus
from apps.notifications.services import notification_status_update, outbox_events_requeue


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["recipient", "status", "title", "channel", "sent_at", "created_at"]
    list_filter = ["status", "channel"]
    search_fields = ["title", "user__email"]
    date_hierarchy = "created_at"
    list_select_related = ["user"]
    raw_id_fields = ["user", "outbox_event"]
    readonly_fields = ["status", "sent_at", "error_message", "outbox_event", "created_at", "updated_at"]
    ordering = ["-created_at"]
    actions = ["deliver_again"]

    @admin.display(description="recipient", ordering="user__email")
    def recipient(self, obj: Notification) -> str:
        return person(obj.user)

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


class DeadLetterFilter(admin.SimpleListFilter):
    """Failed events by retry budget (the worker's `OUTBOX_WORKER_MAX_RETRIES`), as the ops overview counts them."""

    title = "retry state"
    parameter_name = "retry"

    def lookups(self, request, model_admin):
        return [
            ("dead_letter", "Dead letter (failed, out of retries)"),
            ("retrying", "Retrying (failed, retries left)"),
        ]

    def queryset(self, request, queryset):
        failed = queryset.filter(status=OutboxEvent.Status.FAILED)
        if self.value() == "dead_letter":
            return failed.filter(retries__gte=settings.OUTBOX_WORKER_MAX_RETRIES)
        if self.value() == "retrying":
            return failed.filter(retries__lt=settings.OUTBOX_WORKER_MAX_RETRIES)
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    # View-only: saving the form would touch updated_at and so restart an event's back-off.
    """Read-only view of the outbox; the only change an operator makes is re-queueing failed events."""

    list_display = ["event_type", "status", "retries", "occurred_at", "aggregate_type", "processed_at"]
    list_filter = ["status", DeadLetterFilter, "event_type"]
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
