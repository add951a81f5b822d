"""The notifications worker (SPEC §4): outbox events in, notifications out.

One cycle = re-queue failed events whose back-off has elapsed, turn a batch of
pending events into notifications, deliver a batch of pending notifications.
Rows are claimed with `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so any
number of workers run side by side without handling a row twice; the
(outbox event, recipient) unique constraint makes a notification exist at most
once even if an event is ever handled again.

Delivery is at-least-once: a notification is sent while its row is locked and
marked `sent` when the transaction commits, so a crash in between may send it
again on the next cycle, but two live workers never send it twice.

The worker writes `OutboxEvent` status columns (owned by apps.audit) here, in
one place, because the worker is their only consumer.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import close_old_connections, connection, connections, transaction
from django.db.models import F, Q, QuerySet

from apps.audit.models import OutboxEvent
from apps.common import clock
from apps.notifications.channels import CHANNELS
from apps.notifications.event_templates import NotificationDraft, notification_drafts_for
from apps.notifications.models import Notification, NotificationStatus
from apps.notifications.services import notification_lists_changed

logger = logging.getLogger(__name__)

ERROR_MESSAGE_MAX_CHARS = 2000
INSERT_BATCH_SIZE = 500


@dataclass(frozen=True)
class CycleStats:
    requeued: int = 0
    processed: int = 0
    failed: int = 0
    dispatched: int = 0
    delivery_failed: int = 0


def backoff_seconds(*, retries: int, base_backoff_seconds: float, max_backoff_seconds: float) -> float:
    """Delay before a failed event with `retries` failures is re-queued: min(max, base * 2^(retries-1))."""
    return max(0.0, min(max_backoff_seconds, base_backoff_seconds * 2 ** (retries - 1)))


def _error_text(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= ERROR_MESSAGE_MAX_CHARS else text[: ERROR_MESSAGE_MAX_CHARS - 3] + "..."


def _claim(queryset: QuerySet) -> QuerySet:
    """Lock the rows this worker takes; rows another worker holds are skipped (PostgreSQL)."""
    features = connection.features
    kwargs = {}
    if features.has_select_for_update_skip_locked:
        kwargs["skip_locked"] = True
    if features.has_select_for_update_of and queryset.query.select_related:
        kwargs["of"] = ("self",)
    return queryset.select_for_update(**kwargs)


def outbox_requeue_due(*, max_retries: int, base_backoff_seconds: float, max_backoff_seconds: float) -> int:
    """Failed events with retries < max_retries whose back-off has elapsed go back to pending.

    One set-based UPDATE: the back-off depends only on `retries`, so the
    condition is one term per retries value until the delay reaches its cap,
    and one term for every retries value past it.
    """
    now = clock.now()
    condition = Q()
    retries = 0
    while retries < max_retries:
        delay = backoff_seconds(
            retries=retries, base_backoff_seconds=base_backoff_seconds, max_backoff_seconds=max_backoff_seconds
        )
        capped = delay >= max_backoff_seconds or base_backoff_seconds <= 0
        due = Q(updated_at__lte=now - timedelta(seconds=delay))
        if capped:
            condition |= Q(retries__gte=retries, retries__lt=max_retries) & due
            break
        condition |= Q(retries=retries) & due
        retries += 1
    if not condition:
        return 0
    with transaction.atomic():
        return (
            OutboxEvent.objects.filter(status=OutboxEvent.Status.FAILED)
            .filter(condition)
            .update(status=OutboxEvent.Status.PENDING, updated_at=now)
        )


def _existing_user_ids(drafts: list[NotificationDraft]) -> set:
    user_ids = {draft.user_id for draft in drafts}
    if not user_ids:
        return set()
    return set(get_user_model().objects.filter(pk__in=user_ids).values_list("pk", flat=True))


def _insert_notifications(*, plans: list[tuple[OutboxEvent, list[NotificationDraft]]]) -> None:
    # ignore_conflicts + the (outbox_event, user) unique constraint: a second run inserts nothing.
    notification_lists_changed(user_ids={draft.user_id for _, drafts in plans for draft in drafts})
    Notification.objects.bulk_create(
        [
            Notification(
                user_id=draft.user_id,
                channel="email",
                title=draft.title,
                body=draft.body,
                status=NotificationStatus.PENDING,
                outbox_event=event,
            )
            for event, drafts in plans
            for draft in drafts
        ],
        batch_size=INSERT_BATCH_SIZE,
        ignore_conflicts=True,
    )


def _insert_batch(*, plans: list[tuple[OutboxEvent, list[NotificationDraft]]]) -> dict:
    """Insert every planned notification; returns {event id: exception} for events whose insert failed.

    Fast path: the whole batch in one savepoint. Only if that raises is each
    event retried in its own savepoint, so one bad event rolls back alone and
    the rest of the batch still goes through.
    """
    plans = [(event, drafts) for event, drafts in plans if drafts]
    if not plans:
        return {}
    try:
        with transaction.atomic():
            _insert_notifications(plans=plans)
        return {}
    except Exception:
        logger.info("batch insert failed; retrying %d events one by one", len(plans), exc_info=True)
    failures = {}
    for event, drafts in plans:
        try:
            with transaction.atomic():
                _insert_notifications(plans=[(event, drafts)])
        except Exception as exc:
            failures[event.pk] = exc
    return failures


def outbox_process_batch(*, batch_size: int) -> tuple[int, int]:
    """Claim up to `batch_size` pending events, oldest first, and create their notifications.

    Each event's notifications go in under a savepoint (see `_insert_batch`):
    an event whose handling raises is rolled back and marked failed
    (retries + 1, error kept) without spoiling the rest of the batch.
    Returns (processed, failed).
    """
    with transaction.atomic():
        pending = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).order_by("occurred_at", "id")
        events = list(_claim(pending)[:batch_size])
        if not events:
            return 0, 0
        failures: dict = {}
        plans: dict = {}
        for event in events:
            try:
                plans[event.pk] = notification_drafts_for(event_type=event.event_type, payload=event.payload)
            except Exception as exc:
                failures[event.pk] = exc
        known_users = _existing_user_ids([draft for drafts in plans.values() for draft in drafts])
        insertable = []
        for event in events:
            if event.pk in failures:
                continue
            drafts = [draft for draft in plans[event.pk] if draft.user_id in known_users]
            if len(drafts) < len(plans[event.pk]):
                logger.warning("outbox event %s names unknown users; they get no notification", event.pk)
            insertable.append((event, drafts))
        failures.update(_insert_batch(plans=insertable))
        processed_ids = [event.pk for event in events if event.pk not in failures]
        now = clock.now()
        if processed_ids:
            OutboxEvent.objects.filter(pk__in=processed_ids).update(
                status=OutboxEvent.Status.PROCESSED, processed_at=now, updated_at=now
            )
        event_types = {event.pk: event.event_type for event in events}
        for event_id, exc in failures.items():
            logger.warning(
                "outbox event %s (%s) failed: %s",
                event_id,
                event_types[event_id],
                _error_text(exc),
                extra={"event_id": str(event_id), "event_type": event_types[event_id]},
            )
            OutboxEvent.objects.filter(pk=event_id).update(
                status=OutboxEvent.Status.FAILED,
                retries=F("retries") + 1,
                error_message=_error_text(exc),
                updated_at=now,
            )
    return len(processed_ids), len(failures)


def notifications_deliver(*, batch_size: int) -> tuple[int, int]:
    """Send up to `batch_size` pending notifications, oldest first, through their channel.

    Returns (sent, failed).
    """
    with transaction.atomic():
        pending = (
            Notification.objects.filter(status=NotificationStatus.PENDING)
            .select_related("user")
            .order_by("created_at", "id")
        )
        batch = list(_claim(pending)[:batch_size])
        notification_lists_changed(user_ids={notification.user_id for notification in batch})
        sent_ids = []
        failed = 0
        for notification in batch:
            sender = CHANNELS.get(notification.channel)
            try:
                if sender is None:
                    raise LookupError(f"unknown channel {notification.channel!r}")
                sender(notification)
            except Exception as exc:
                failed += 1
                logger.warning("notification %s delivery failed: %s", notification.pk, _error_text(exc))
                Notification.objects.filter(pk=notification.pk).update(
                    status=NotificationStatus.FAILED,
                    sent_at=None,
                    error_message=_error_text(exc),
                    updated_at=clock.now(),
                )
            else:
                sent_ids.append(notification.pk)
        if sent_ids:
            now = clock.now()
            Notification.objects.filter(pk__in=sent_ids).update(
                status=NotificationStatus.SENT, sent_at=now, error_message="", updated_at=now
            )
    return len(sent_ids), failed


def run_cycle(
    *, batch_size: int, max_retries: int, base_backoff_seconds: float, max_backoff_seconds: float
) -> CycleStats:
    """One worker cycle: re-queue due retries, process a batch of events, deliver a batch of notifications."""
    requeued = outbox_requeue_due(
        max_retries=max_retries, base_backoff_seconds=base_backoff_seconds, max_backoff_seconds=max_backoff_seconds
    )
    processed, failed = outbox_process_batch(batch_size=batch_size)
    dispatched, delivery_failed = notifications_deliver(batch_size=batch_size)
    stats = CycleStats(
        requeued=requeued, processed=processed, failed=failed, dispatched=dispatched, delivery_failed=delivery_failed
    )
    logger.info(
        "outbox cycle requeued=%d processed=%d failed=%d dispatched=%d",
        stats.requeued,
        stats.processed,
        stats.failed,
        stats.dispatched,
    )
    return stats


def _reset_connections() -> None:
    """Drop every connection so the next cycle reconnects (e.g. after a database restart)."""
    try:
        connections.close_all()
    except Exception:
        logger.warning("closing database connections failed", exc_info=True)


def run_worker_loop(
    *,
    should_stop: Callable[[], bool],
    poll_seconds: float,
    batch_size: int,
    max_retries: int,
    base_backoff_seconds: float,
    max_backoff_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    sleep_step_seconds: float = 0.1,
) -> int:
    """Run cycles until `should_stop()`; a failing cycle is logged and the loop goes on. Returns cycles run."""

    cycles = 0
    while not should_stop():
        close_old_connections()
        busy = False
        try:
            stats = run_cycle(
                batch_size=batch_size,
                max_retries=max_retries,
                base_backoff_seconds=base_backoff_seconds,
                max_backoff_seconds=max_backoff_seconds,
            )
            # A full batch means more is waiting: go again without sleeping.
            busy = (
                stats.processed + stats.failed >= batch_size or stats.dispatched + stats.delivery_failed >= batch_size
            )
        except Exception:
            logger.exception("outbox cycle failed; retrying after %.1fs", poll_seconds)
            _reset_connections()
        cycles += 1
        if busy:
            continue
        remaining = poll_seconds
        while remaining > 0 and not should_stop():
            step = min(sleep_step_seconds, remaining)
            sleep(step)
            remaining -= step
    return cycles
