"""Reads for notifications and the outbox delivery metrics."""

from django.contrib.auth import get_user_model
from django.db.models import Count, Q, QuerySet

from apps.audit.models import OutboxEvent
from apps.common.page_cache import user_scopes
from apps.common.queries import one_or_none
from apps.notifications.models import Notification, NotificationStatus

# The page-cache scope of a user's notification list (apps/common/page_cache.py): `notifications:<user id>`.
NOTIFICATION_LISTS = "notifications"


def notification_list_for_user(*, user) -> QuerySet[Notification]:
    """A user's own notifications, newest first (every role sees only their own)."""
    return Notification.objects.filter(user_id=user.pk).order_by("-created_at", "-id")


def notification_list_scope(*, user) -> tuple[str, tuple]:
    """The page-cache scope of `notification_list_for_user(user=user)`, and its key part."""
    (scope,) = user_scopes(NOTIFICATION_LISTS, [user.pk])
    return scope, (scope,)


def notification_get(*, notification_id) -> Notification | None:
    return one_or_none(Notification.objects.filter(pk=notification_id))


def user_exists(*, user_id) -> bool:
    return get_user_model().objects.filter(pk=user_id).exists()


def delivery_metrics(*, max_retries: int) -> dict[str, int]:
    """Notification and outbox counts by status: one aggregate query per table.

    A failed event with `retries < max_retries` will be re-queued after its
    back-off (retryable); at `retries >= max_retries` it is a dead letter.
    """
    notifications = Notification.objects.aggregate(
        pending=Count("id", filter=Q(status=NotificationStatus.PENDING)),
        sent=Count("id", filter=Q(status=NotificationStatus.SENT)),
        failed=Count("id", filter=Q(status=NotificationStatus.FAILED)),
    )
    failed = Q(status=OutboxEvent.Status.FAILED)
    outbox = OutboxEvent.objects.aggregate(
        pending=Count("id", filter=Q(status=OutboxEvent.Status.PENDING)),
        processed=Count("id", filter=Q(status=OutboxEvent.Status.PROCESSED)),
        retryable=Count("id", filter=failed & Q(retries__lt=max_retries)),
        dead=Count("id", filter=failed & Q(retries__gte=max_retries)),
    )
    return {
        # Totals are sums of the statuses (a check constraint allows no others).
        "notifications_total": notifications["pending"] + notifications["sent"] + notifications["failed"],
        "notifications_pending": notifications["pending"],
        "notifications_sent": notifications["sent"],
        "notifications_failed": notifications["failed"],
        "outbox_total": outbox["pending"] + outbox["processed"] + outbox["retryable"] + outbox["dead"],
        "outbox_pending": outbox["pending"],
        "outbox_processed": outbox["processed"],
        "outbox_failed": outbox["retryable"] + outbox["dead"],
        "outbox_retryable_failed": outbox["retryable"],
        "outbox_dead_letter": outbox["dead"],
        "max_retries": max_retries,
    }
