"""What pruning old outbox events does to the notifications made from them (README Decisions)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from apps.audit.models import OutboxEvent
from apps.audit.services import outbox_events_prune
from apps.common import clock
from apps.notifications.models import Notification
from apps.notifications.tests.factories import NotificationFactory, OutboxEventFactory

pytestmark = pytest.mark.django_db


def _processed_event(*, days_ago: int) -> OutboxEvent:
    return OutboxEventFactory(status=OutboxEvent.Status.PROCESSED, processed_at=clock.now() - timedelta(days=days_ago))


def test_notifications_of_pruned_events_stay_unlinked(student):
    old, recent = _processed_event(days_ago=40), _processed_event(days_ago=2)
    from_old = NotificationFactory(user=student, outbox_event=old, status="sent")
    from_recent = NotificationFactory(user=student, outbox_event=recent, status="sent")
    before = (from_old.pk, from_old.title, from_old.body, "sent", student.pk)

    assert outbox_events_prune(processed_before=clock.now() - timedelta(days=30)) == 1

    from_old = Notification.objects.get(pk=from_old.pk)
    from_recent.refresh_from_db()
    assert from_old.outbox_event_id is None
    assert (from_old.pk, from_old.title, from_old.body, from_old.status, from_old.user_id) == before
    assert from_recent.outbox_event_id == recent.pk
    assert Notification.objects.count() == 2


def test_once_per_event_and_recipient_still_holds_for_live_events(student):
    old_a, old_b, live = _processed_event(days_ago=40), _processed_event(days_ago=41), _processed_event(days_ago=1)
    NotificationFactory(user=student, outbox_event=old_a)
    NotificationFactory(user=student, outbox_event=old_b)
    NotificationFactory(user=student, outbox_event=live)

    assert outbox_events_prune(processed_before=clock.now() - timedelta(days=30)) == 2

    # Two unlinked notifications for one user do not collide ...
    assert Notification.objects.filter(user=student, outbox_event__isnull=True).count() == 2
    # ... and the live event still gets its recipient once only.
    with pytest.raises(IntegrityError), transaction.atomic():
        NotificationFactory(user=student, outbox_event=live)
