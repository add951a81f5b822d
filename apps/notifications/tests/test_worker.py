import logging
import uuid
from dataclasses import replace

import pytest
from django.core import mail
from django.db import IntegrityError

from apps.audit.models import OutboxEvent
from apps.identity.tests.factories import StudentFactory, TeacherFactory
from apps.notifications import channels, worker
from apps.notifications.event_templates import EVENT_TEMPLATES
from apps.notifications.models import Notification
from apps.notifications.tests.factories import NotificationFactory, OutboxEventFactory, contract_event

pytestmark = pytest.mark.django_db

CYCLE = {"batch_size": 100, "max_retries": 3, "base_backoff_seconds": 30, "max_backoff_seconds": 300}

EXPECTED_RECIPIENTS = {
    "booking.hold.created": set(),
    "booking.confirmed": {"student"},
    "booking.canceled": {"student"},
    "booking.rescheduled": {"student"},
    "booking.hold.expired": {"student"},
    "lesson.created": {"student", "teacher"},
    "lesson.canceled": {"student", "teacher"},
    "lesson.reminder": {"student", "teacher"},
    "billing.package.created": {"student"},
    "billing.package.expired": {"student"},
    "billing.package.canceled": {"student"},
    "billing.payment.created": set(),
    "billing.payment.status.updated": {"student"},
}


@pytest.fixture(autouse=True)
def _locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _boom(payload):
    raise RuntimeError("template exploded")


def test_registry_covers_every_spec_event_type():
    assert set(EVENT_TEMPLATES) == set(EXPECTED_RECIPIENTS)


@pytest.mark.parametrize("event_type", sorted(EXPECTED_RECIPIENTS))
def test_each_event_type_notifies_its_recipients_once(event_type):
    student, teacher = StudentFactory(), TeacherFactory()
    bystander = StudentFactory()
    event = contract_event(event_type, student=student, teacher=teacher)
    users = {"student": student, "teacher": teacher}
    expected = {users[role].pk for role in EXPECTED_RECIPIENTS[event_type]}

    first = worker.run_cycle(**CYCLE)
    second = worker.run_cycle(**CYCLE)

    event.refresh_from_db()
    assert event.status == "processed"
    assert event.processed_at is not None
    assert (first.processed, first.failed, first.dispatched) == (1, 0, len(expected))
    assert (second.processed, second.failed, second.dispatched) == (0, 0, 0)
    notifications = list(Notification.objects.filter(outbox_event=event))
    assert sorted(n.user_id for n in notifications) == sorted(expected)
    assert all(n.status == "sent" and n.sent_at is not None and n.title and n.body for n in notifications)
    assert not Notification.objects.filter(user=bystander).exists()
    assert sorted(m.to[0] for m in mail.outbox) == sorted(users[role].email for role in EXPECTED_RECIPIENTS[event_type])


def test_handling_an_event_again_creates_no_duplicate():
    student = StudentFactory()
    event = contract_event("booking.confirmed", student=student)
    worker.run_cycle(**CYCLE)
    # A crash after commit but before the status write would show the worker the event again.
    OutboxEvent.objects.filter(pk=event.pk).update(status="pending", processed_at=None)
    stats = worker.run_cycle(**CYCLE)
    assert stats.processed == 1
    assert Notification.objects.filter(outbox_event=event).count() == 1
    assert len(mail.outbox) == 1


def test_templates_render_payload_fields():
    student = StudentFactory()
    contract_event("billing.payment.status.updated", student=student)
    contract_event("booking.canceled", student=student)
    contract_event("billing.package.canceled", student=student)
    worker.run_cycle(**CYCLE)
    bodies = {n.title: n.body for n in Notification.objects.filter(user=student)}
    assert bodies["Payment succeeded"] == "Your payment of 49.90 USD is now succeeded (was pending)."
    assert bodies["Booking canceled: 2026-12-01 10:00 UTC"] == (
        "Your booking for 2026-12-01 10:00 UTC was canceled. The lesson was returned to your package."
    )
    assert bodies["Your lesson package was canceled"] == (
        "Your package of 10 lessons was canceled by the school. Reason: Refunded at the student's request."
    )


def test_unknown_event_type_is_processed_without_notification():
    event = OutboxEventFactory(event_type="school.anniversary", payload={"student_id": str(StudentFactory().pk)})
    stats = worker.run_cycle(**CYCLE)
    event.refresh_from_db()
    assert (event.status, stats.processed) == ("processed", 1)
    assert Notification.objects.count() == 0


def test_recipient_that_no_longer_exists_is_skipped():
    event = contract_event("lesson.created", student=StudentFactory())  # teacher id names nobody
    worker.run_cycle(**CYCLE)
    event.refresh_from_db()
    assert event.status == "processed"
    assert Notification.objects.filter(outbox_event=event).count() == 1


def test_payload_without_recipient_id_fails_the_event():
    event = OutboxEventFactory(event_type="booking.confirmed", payload={"booking_id": str(uuid.uuid4())})
    stats = worker.run_cycle(**CYCLE)
    event.refresh_from_db()
    assert (stats.processed, stats.failed) == (0, 1)
    assert (event.status, event.retries) == ("failed", 1)
    assert "payload has no student_id" in event.error_message


def test_failing_builder_fails_only_its_event(monkeypatch):
    student = StudentFactory()
    monkeypatch.setitem(
        EVENT_TEMPLATES, "booking.confirmed", replace(EVENT_TEMPLATES["booking.confirmed"], recipients=_boom)
    )
    bad = contract_event("booking.confirmed", student=student)
    good = contract_event("billing.package.created", student=student)

    stats = worker.run_cycle(**CYCLE)

    bad.refresh_from_db()
    good.refresh_from_db()
    assert (stats.processed, stats.failed) == (1, 1)
    assert (bad.status, bad.retries, bad.processed_at) == ("failed", 1, None)
    assert bad.error_message == "RuntimeError: template exploded"
    assert good.status == "processed"
    assert list(Notification.objects.values_list("outbox_event_id", flat=True)) == [good.pk]


def test_database_error_in_one_event_rolls_back_its_savepoint_only(monkeypatch):
    student = StudentFactory()
    bad = contract_event("lesson.created", student=student, teacher=TeacherFactory())
    good = contract_event("booking.confirmed", student=student)
    later = contract_event("billing.package.created", student=student)
    real_insert = worker._insert_notifications
    attempts = []

    def insert(*, plans):
        attempts.append([event.pk for event, _ in plans])
        real_insert(plans=plans)  # these rows must vanish with the savepoint when the event is bad
        if any(event.pk == bad.pk for event, _ in plans):
            Notification.objects.create(user=student, title="x", body="x", status="bogus")  # check constraint

    monkeypatch.setattr(worker, "_insert_notifications", insert)
    stats = worker.run_cycle(**CYCLE)

    assert attempts == [[bad.pk, good.pk, later.pk], [bad.pk], [good.pk], [later.pk]]  # batch, then one by one
    for event in (bad, good, later):
        event.refresh_from_db()
    assert (stats.processed, stats.failed) == (2, 1)
    assert (bad.status, bad.retries) == ("failed", 1)
    assert bad.error_message.startswith("IntegrityError:")
    assert (good.status, later.status) == ("processed", "processed")
    assert not Notification.objects.filter(outbox_event=bad).exists()
    assert Notification.objects.filter(outbox_event=good).count() == 1
    assert Notification.objects.filter(outbox_event=later).count() == 1
    assert Notification.objects.count() == 2


def test_error_message_is_truncated(monkeypatch):
    def long_boom(payload):
        raise RuntimeError("x" * 10_000)

    monkeypatch.setitem(
        EVENT_TEMPLATES, "booking.confirmed", replace(EVENT_TEMPLATES["booking.confirmed"], recipients=long_boom)
    )
    event = contract_event("booking.confirmed", student=StudentFactory())
    worker.run_cycle(**CYCLE)
    event.refresh_from_db()
    assert len(event.error_message) == worker.ERROR_MESSAGE_MAX_CHARS
    assert event.error_message.endswith("...")


def test_failed_event_is_requeued_only_after_its_backoff(monkeypatch, clock):
    student = StudentFactory()
    working = EVENT_TEMPLATES["booking.confirmed"]
    monkeypatch.setitem(EVENT_TEMPLATES, "booking.confirmed", replace(working, recipients=_boom))
    event = contract_event("booking.confirmed", student=student)
    worker.run_cycle(**CYCLE)  # failure 1: back-off 30 s

    clock.advance(seconds=29)
    assert worker.run_cycle(**CYCLE).requeued == 0
    event.refresh_from_db()
    assert (event.status, event.retries) == ("failed", 1)

    clock.advance(seconds=2)
    stats = worker.run_cycle(**CYCLE)  # requeued and fails again in the same cycle: failure 2, back-off 60 s
    assert (stats.requeued, stats.failed) == (1, 1)
    event.refresh_from_db()
    assert (event.status, event.retries) == ("failed", 2)

    clock.advance(seconds=59)
    assert worker.run_cycle(**CYCLE).requeued == 0

    monkeypatch.setitem(EVENT_TEMPLATES, "booking.confirmed", working)  # fixed
    clock.advance(seconds=2)
    stats = worker.run_cycle(**CYCLE)
    assert (stats.requeued, stats.processed, stats.dispatched) == (1, 1, 1)
    event.refresh_from_db()
    assert (event.status, event.retries) == ("processed", 2)
    assert Notification.objects.filter(outbox_event=event, user=student, status="sent").count() == 1


def test_event_is_dead_lettered_at_max_retries(monkeypatch, clock):
    monkeypatch.setitem(
        EVENT_TEMPLATES, "booking.confirmed", replace(EVENT_TEMPLATES["booking.confirmed"], recipients=_boom)
    )
    event = contract_event("booking.confirmed", student=StudentFactory())
    for _ in range(CYCLE["max_retries"]):
        worker.run_cycle(**CYCLE)
        clock.advance(seconds=CYCLE["max_backoff_seconds"] + 1)
    event.refresh_from_db()
    assert (event.status, event.retries) == ("failed", 3)

    clock.advance(days=30)
    stats = worker.run_cycle(**CYCLE)
    assert (stats.requeued, stats.processed, stats.failed) == (0, 0, 0)
    event.refresh_from_db()
    assert (event.status, event.retries) == ("failed", 3)


def test_backoff_formula_and_cap():
    args = {"base_backoff_seconds": 30, "max_backoff_seconds": 300}
    assert [worker.backoff_seconds(retries=r, **args) for r in (1, 2, 3, 4, 5, 6)] == [30, 60, 120, 240, 300, 300]


@pytest.mark.parametrize(("retries", "elapsed", "requeued"), [(4, 239, 0), (4, 241, 1), (7, 299, 0), (7, 301, 1)])
def test_requeue_due_respects_backoff_for_high_retries(clock, retries, elapsed, requeued):
    event = OutboxEventFactory(status="failed", retries=retries)
    OutboxEvent.objects.filter(pk=event.pk).update(updated_at=clock.now())
    clock.advance(seconds=elapsed)
    count = worker.outbox_requeue_due(max_retries=10, base_backoff_seconds=30, max_backoff_seconds=300)
    event.refresh_from_db()
    assert count == requeued
    assert event.status == ("pending" if requeued else "failed")
    assert event.retries == retries


def test_batch_size_takes_oldest_events_first(clock):
    student = StudentFactory()
    events = []
    for _ in range(3):
        events.append(contract_event("booking.confirmed", student=student, occurred_at=clock.now()))
        clock.advance(seconds=1)
    stats = worker.run_cycle(**{**CYCLE, "batch_size": 2})
    statuses = [OutboxEvent.objects.get(pk=e.pk).status for e in events]
    assert stats.processed == 2
    assert statuses == ["processed", "processed", "pending"]


def test_email_delivery_through_locmem():
    student = StudentFactory(email="ada@example.com")
    notification = NotificationFactory(user=student, title="Welcome", body="Hi Ada")
    stats = worker.run_cycle(**CYCLE)
    notification.refresh_from_db()
    assert stats.dispatched == 1
    assert notification.status == "sent"
    assert notification.sent_at is not None
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert (message.to, message.subject, message.body) == (["ada@example.com"], "Welcome", "Hi Ada")


def test_delivery_failure_marks_notification_failed(monkeypatch):
    def broken_send_mail(**kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(mail, "send_mail", broken_send_mail)
    failing = NotificationFactory()
    stats = worker.run_cycle(**CYCLE)
    failing.refresh_from_db()
    assert (stats.dispatched, stats.delivery_failed) == (0, 1)
    assert (failing.status, failing.sent_at) == ("failed", None)
    assert failing.error_message == "ConnectionRefusedError: smtp down"
    # A failed notification is not retried by the next cycle.
    monkeypatch.undo()
    assert worker.run_cycle(**CYCLE).dispatched == 0


def test_one_failing_delivery_does_not_stop_the_others(monkeypatch):
    bad, good = NotificationFactory(), NotificationFactory()
    real = channels.CHANNELS["email"]

    def flaky(notification):
        if notification.pk == bad.pk:
            raise OSError("mailbox full")
        real(notification)

    monkeypatch.setitem(channels.CHANNELS, "email", flaky)
    stats = worker.run_cycle(**CYCLE)
    assert (stats.dispatched, stats.delivery_failed) == (1, 1)
    assert Notification.objects.get(pk=bad.pk).status == "failed"
    assert Notification.objects.get(pk=good.pk).status == "sent"
    assert [m.to for m in mail.outbox] == [[good.user.email]]


def test_unknown_channel_fails_delivery():
    notification = NotificationFactory(channel="carrier-pigeon")
    worker.run_cycle(**CYCLE)
    notification.refresh_from_db()
    assert notification.status == "failed"
    assert "unknown channel" in notification.error_message


def test_cycle_logs_its_counts(caplog):
    contract_event("lesson.created", student=StudentFactory(), teacher=TeacherFactory())
    with caplog.at_level(logging.INFO, logger="apps.notifications.worker"):
        worker.run_cycle(**CYCLE)
    assert "outbox cycle requeued=0 processed=1 failed=0 dispatched=2" in caplog.messages


def test_loop_survives_a_failing_cycle(monkeypatch, caplog):
    calls = []

    def cycle(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise IntegrityError("database went away")
        return worker.CycleStats()

    monkeypatch.setattr(worker, "run_cycle", cycle)
    sleeps = []
    with caplog.at_level(logging.ERROR, logger="apps.notifications.worker"):
        cycles = worker.run_worker_loop(
            should_stop=lambda: len(calls) >= 2,
            poll_seconds=0.3,
            sleep=sleeps.append,
            **CYCLE,
        )
    assert cycles == 2
    assert calls == [CYCLE, CYCLE]
    assert any("outbox cycle failed" in r.message and r.exc_info for r in caplog.records)
    assert sleeps == pytest.approx([0.1, 0.1, 0.1])  # slept in small steps, then stopped


def test_loop_does_not_sleep_while_a_backlog_remains(monkeypatch):
    results = [worker.CycleStats(processed=100), worker.CycleStats()]
    monkeypatch.setattr(worker, "run_cycle", lambda **kwargs: results.pop(0))
    sleeps = []
    worker.run_worker_loop(should_stop=lambda: not results, poll_seconds=1, sleep=sleeps.append, **CYCLE)
    assert sleeps == []
