"""Operator re-queue (service, command, admin action) and the worker command's options."""

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from apps.audit.models import AuditLog, OutboxEvent
from apps.identity.tests.factories import StudentFactory
from apps.notifications import worker
from apps.notifications.models import Notification
from apps.notifications.services import outbox_events_requeue
from apps.notifications.tests.factories import NotificationFactory, OutboxEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def outbox():
    """Failed events at retries 1, 4 (retryable) and 5, 7 (dead at max 5); one pending, one processed."""
    events = {f"failed_{r}": OutboxEventFactory(status="failed", retries=r, error_message="boom") for r in (1, 4, 5, 7)}
    events["pending"] = OutboxEventFactory(retries=2)
    events["processed"] = OutboxEventFactory(status="processed", retries=1)
    return events


def _state(event):
    event.refresh_from_db()
    return event.status, event.retries, event.error_message


def _run(command, *args) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue().strip()


def test_requeue_dead_letters_only(outbox, settings):
    settings.OUTBOX_WORKER_MAX_RETRIES = 5
    assert _run("requeue_outbox_events", "--dead-letter") == "requeued 2"
    assert _state(outbox["failed_5"]) == ("pending", 0, "")
    assert _state(outbox["failed_7"]) == ("pending", 0, "")
    assert _state(outbox["failed_1"]) == ("failed", 1, "boom")
    assert _state(outbox["failed_4"]) == ("failed", 4, "boom")
    assert _state(outbox["pending"]) == ("pending", 2, "")
    assert _state(outbox["processed"]) == ("processed", 1, "")


def test_requeue_dead_letters_with_explicit_threshold(outbox):
    assert _run("requeue_outbox_events", "--dead-letter", "--max-retries", "4") == "requeued 3"
    assert _state(outbox["failed_1"])[0] == "failed"


def test_requeue_by_event_id(outbox):
    ids = [outbox["failed_1"].pk, outbox["failed_7"].pk, outbox["processed"].pk, uuid.uuid4()]
    assert _run("requeue_outbox_events", "--event-id", *map(str, ids)) == "requeued 2"
    assert _state(outbox["failed_1"]) == ("pending", 0, "")
    assert _state(outbox["failed_7"]) == ("pending", 0, "")
    assert _state(outbox["failed_5"]) == ("failed", 5, "boom")
    assert _state(outbox["processed"]) == ("processed", 1, "")  # never touched: it is not failed


def test_requeue_everything_failed(outbox):
    assert _run("requeue_outbox_events") == "requeued 4"
    assert OutboxEvent.objects.filter(status="failed").count() == 0
    assert _state(outbox["processed"]) == ("processed", 1, "")


def test_requeue_rejects_bad_ids(outbox):
    with pytest.raises(CommandError):
        call_command("requeue_outbox_events", "--event-id", "nope", stdout=StringIO())
    assert OutboxEvent.objects.filter(status="failed").count() == 4


def test_requeued_dead_letter_is_processed_by_the_next_cycle(outbox, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    student = StudentFactory()
    dead = outbox["failed_7"]
    OutboxEvent.objects.filter(pk=dead.pk).update(payload={"student_id": str(student.pk)})  # the cause, fixed
    outbox["pending"].delete()
    assert outbox_events_requeue(event_ids=[dead.pk]) == 1
    stats = worker.run_cycle(batch_size=10, max_retries=5, base_backoff_seconds=30, max_backoff_seconds=300)
    assert (stats.processed, stats.failed, stats.dispatched) == (1, 0, 1)
    assert _state(dead) == ("processed", 0, "")
    assert Notification.objects.get(outbox_event=dead).user_id == student.pk


def test_admin_action_requeues_selected_failed_events(outbox, admin_user):
    client = Client()
    client.force_login(admin_user)
    selected = [outbox["failed_7"].pk, outbox["failed_5"].pk, outbox["processed"].pk]
    response = client.post(
        "/admin/audit/outboxevent/",
        {"action": "requeue_selected_events", "_selected_action": [str(pk) for pk in selected]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Requeued 2 failed event(s)." in response.content.decode()
    assert _state(outbox["failed_7"]) == ("pending", 0, "")
    assert _state(outbox["failed_5"]) == ("pending", 0, "")
    assert _state(outbox["failed_1"]) == ("failed", 1, "boom")
    assert _state(outbox["processed"]) == ("processed", 1, "")
    assert AuditLog.objects.get(action="notifications.outbox_event.requeue").actor_id == admin_user.pk


def test_admin_pages_render(outbox, admin_user):
    notification = NotificationFactory(title="Capo reminder")
    client = Client()
    client.force_login(admin_user)
    pages = [
        "/admin/audit/outboxevent/",
        "/admin/audit/outboxevent/?status__exact=failed&event_type=booking.confirmed",
        f"/admin/audit/outboxevent/{outbox['failed_1'].pk}/change/",
        "/admin/notifications/notification/?status__exact=pending&channel=email",
        f"/admin/notifications/notification/?q={notification.user.email}",
        f"/admin/notifications/notification/{notification.pk}/change/",
    ]
    for page in pages:
        assert client.get(page).status_code == 200, page
    listing = client.get(f"/admin/notifications/notification/?q={notification.user.email}").content.decode()
    assert "Capo reminder" in listing
    assert client.get("/admin/audit/outboxevent/add/").status_code == 403


# --- run_outbox_worker options ------------------------------------------------------------------------------


@pytest.fixture
def recorded(monkeypatch):
    calls = {"cycle": [], "loop": []}

    def cycle(**kwargs):
        calls["cycle"].append(kwargs)
        return worker.CycleStats(requeued=1, processed=2, failed=3, dispatched=4)

    def loop(**kwargs):
        calls["loop"].append(kwargs)
        return 7

    monkeypatch.setattr(worker, "run_cycle", cycle)
    monkeypatch.setattr(worker, "run_worker_loop", loop)
    return calls


def test_one_cycle_by_default_with_settings(recorded, settings):
    settings.OUTBOX_WORKER_MODE = "once"
    settings.OUTBOX_WORKER_BATCH_SIZE = 17
    settings.OUTBOX_WORKER_MAX_RETRIES = 4
    settings.OUTBOX_WORKER_BASE_BACKOFF_SECONDS = 11
    settings.OUTBOX_WORKER_MAX_BACKOFF_SECONDS = 99
    out = _run("run_outbox_worker")
    assert out == "requeued=1 processed=2 failed=3 dispatched=4 delivery_failed=0"
    assert recorded["cycle"] == [
        {"batch_size": 17, "max_retries": 4, "base_backoff_seconds": 11, "max_backoff_seconds": 99}
    ]
    assert recorded["loop"] == []


def test_flags_win_over_settings(recorded, settings):
    settings.OUTBOX_WORKER_BATCH_SIZE = 17
    _run(
        "run_outbox_worker",
        "--batch-size",
        "5",
        "--max-retries",
        "2",
        "--base-backoff-seconds",
        "1.5",
        "--max-backoff-seconds",
        "8",
    )
    assert recorded["cycle"] == [
        {"batch_size": 5, "max_retries": 2, "base_backoff_seconds": 1.5, "max_backoff_seconds": 8}
    ]


def test_mode_loop_setting_means_loop(recorded, settings):
    settings.OUTBOX_WORKER_MODE = "loop"
    settings.OUTBOX_WORKER_POLL_SECONDS = 3
    assert _run("run_outbox_worker") == "stopped after 7 cycles"
    assert recorded["cycle"] == []
    assert len(recorded["loop"]) == 1
    assert recorded["loop"][0]["poll_seconds"] == 3


def test_loop_flag_and_poll_seconds(recorded, settings):
    settings.OUTBOX_WORKER_MODE = "once"
    _run("run_outbox_worker", "--loop", "--poll-seconds", "0.2")
    assert recorded["loop"][0]["poll_seconds"] == 0.2


@pytest.mark.parametrize(
    "args", [["--batch-size", "0"], ["--max-retries", "0"], ["--poll-seconds", "-1"], ["--base-backoff-seconds", "-1"]]
)
def test_bad_worker_options_are_refused(recorded, args):
    with pytest.raises(CommandError):
        call_command("run_outbox_worker", *args, stdout=StringIO())
    assert recorded["cycle"] == []


def test_real_cycle_through_the_command(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    NotificationFactory()
    OutboxEventFactory(event_type="booking.hold.created", payload={})
    assert _run("run_outbox_worker") == "requeued=0 processed=1 failed=0 dispatched=1 delivery_failed=0"


def test_requeue_is_audited(outbox, admin_user):
    assert outbox_events_requeue(actor=admin_user, event_ids=[outbox["failed_4"].pk]) == 1
    log = AuditLog.objects.get(action="notifications.outbox_event.requeue")
    assert (log.actor_id, log.entity_type, log.entity_id) == (admin_user.pk, "outbox_event", outbox["failed_4"].pk)
    assert log.payload == {"count": 1, "dead_letter_only": False, "event_ids": [str(outbox["failed_4"].pk)]}


def test_requeue_of_nothing_writes_nothing(outbox):
    assert outbox_events_requeue(event_ids=[outbox["processed"].pk]) == 0
    assert AuditLog.objects.count() == 0


def test_admin_action_delivers_failed_notifications_again(admin_user):
    failed = NotificationFactory(status="failed")
    sent = NotificationFactory(status="sent")
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/notifications/notification/",
        {"action": "deliver_again", "_selected_action": [str(failed.pk), str(sent.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert (failed.status, sent.status, sent.sent_at) == ("pending", "pending", None)
    assert AuditLog.objects.filter(action="notifications.notification.status.update").count() == 2
