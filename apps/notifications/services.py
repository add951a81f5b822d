"""Writes on notifications, and the operator's re-queue of failed outbox events."""

from collections.abc import Iterable

from django.db import transaction

from apps.audit.models import OutboxEvent
from apps.audit.services import audit_log_record
from apps.common import clock
from apps.common.errors import InvalidInput
from apps.common.locking import lock_one
from apps.common.page_cache import scopes_changed, user_scopes
from apps.notifications.channels import CHANNELS
from apps.notifications.errors import (
    NotificationAccessDenied,
    NotificationNotFound,
    RecipientNotFound,
    UnknownChannel,
)
from apps.notifications.models import Notification, NotificationStatus
from apps.notifications.selectors import NOTIFICATION_LISTS, user_exists

REQUEUE_AUDIT_MAX_IDS = 1000


def notification_lists_changed(*, user_ids) -> None:
    """Call in any transaction that writes notification rows: these users' cached notification lists are
    recomputed after the commit (apps/common/page_cache.py)."""
    scopes_changed(*user_scopes(NOTIFICATION_LISTS, user_ids))


def notification_create(*, actor, user_id, channel: str, title: str, body: str) -> Notification:
    """Queue a hand-written notification for one user; the worker delivers it."""
    if channel not in CHANNELS:
        raise UnknownChannel(details={"channel": [f"Must be one of: {', '.join(sorted(CHANNELS))}."]})
    with transaction.atomic():
        if not user_exists(user_id=user_id):
            raise RecipientNotFound()
        notification = Notification.objects.create(
            user_id=user_id,
            channel=channel,
            title=title,
            body=body,
            status=NotificationStatus.PENDING,
        )
        notification_lists_changed(user_ids=[user_id])
        audit_log_record(
            actor=actor,
            action="notifications.notification.create",
            entity_type="notification",
            entity_id=notification.pk,
            payload={"user_id": str(user_id), "channel": channel, "title": title},
        )
    return notification


def notification_status_update(*, actor, notification_id, status: str) -> Notification:
    """Set a notification's status (admin or recipient): `sent` stamps `sent_at`, others clear it.

    Setting the status it already has changes nothing and writes no audit row.
    """
    if status not in NotificationStatus.values:
        raise InvalidInput(details={"status": [f"Must be one of: {', '.join(NotificationStatus.values)}."]})
    with transaction.atomic():
        notification = lock_one(Notification.objects.all(), notification_id)
        if notification is None:
            raise NotificationNotFound()
        if not (actor.is_admin or notification.user_id == actor.pk):
            raise NotificationAccessDenied()
        if notification.status == status:
            return notification
        previous = notification.status
        now = clock.now()
        notification.status = status
        notification.sent_at = now if status == NotificationStatus.SENT else None
        if status != NotificationStatus.FAILED:
            notification.error_message = ""
        notification.updated_at = now
        Notification.objects.filter(pk=notification.pk).update(
            status=notification.status,
            sent_at=notification.sent_at,
            error_message=notification.error_message,
            updated_at=now,
        )
        notification_lists_changed(user_ids=[notification.user_id])
        audit_log_record(
            actor=actor,
            action="notifications.notification.status.update",
            entity_type="notification",
            entity_id=notification.pk,
            payload={"from": previous, "to": status},
        )
    return notification


def outbox_events_requeue(
    *,
    actor=None,
    event_ids: Iterable | None = None,
    dead_letter_only: bool = False,
    max_retries: int | None = None,
) -> int:
    """Operator re-queue: matching failed events go back to `pending` with retries and error reset.

    `event_ids` limits it to those events, `dead_letter_only` to events with
    `retries >= max_retries`; with neither, every failed event is re-queued.
    Events that are not failed are never touched. Audited (actor None = a
    command run by an operator). Returns how many moved.
    """
    queryset = OutboxEvent.objects.filter(status=OutboxEvent.Status.FAILED)
    if event_ids is not None:
        queryset = queryset.filter(pk__in=list(event_ids))
    if dead_letter_only:
        if max_retries is None:
            raise ValueError("dead_letter_only needs max_retries")
        queryset = queryset.filter(retries__gte=max_retries)
    with transaction.atomic():
        # Lock first so the ids audited are exactly the rows moved, even with a worker running.
        requeued_ids = list(queryset.select_for_update().order_by("pk").values_list("pk", flat=True))
        if not requeued_ids:
            return 0
        OutboxEvent.objects.filter(pk__in=requeued_ids).update(
            status=OutboxEvent.Status.PENDING, retries=0, error_message="", updated_at=clock.now()
        )
        audit_log_record(
            actor=actor,
            action="notifications.outbox_event.requeue",
            entity_type="outbox_event",
            entity_id=requeued_ids[0] if len(requeued_ids) == 1 else None,
            payload={
                "count": len(requeued_ids),
                "dead_letter_only": dead_letter_only,
                "event_ids": [str(pk) for pk in requeued_ids[:REQUEUE_AUDIT_MAX_IDS]],
            },
        )
    return len(requeued_ids)
