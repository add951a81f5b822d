"""`send_lesson_reminders` (SPEC §8.5): one `lesson.reminder` per scheduled lesson starting within the window.

Two processes at once, and a copy that loses the race to the unique row, are in test_concurrency.py.
"""

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import IntegrityError, transaction

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.tests.factories import PackageFactory
from apps.booking.services import booking_cancel, booking_reschedule
from apps.booking.tests.factories import future_slot
from apps.lessons.models import Lesson, LessonReminder, LessonStatus
from apps.lessons.services import lesson_event_payload, lesson_reminders_queue
from apps.lessons.tests.factories import bulk_scheduled_lessons, make_lesson
from apps.notifications.models import Notification

pytestmark = pytest.mark.django_db


def _reminded() -> list:
    return sorted(OutboxEvent.objects.filter(event_type="lesson.reminder").values_list("aggregate_id", flat=True))


def _send() -> str:
    out = io.StringIO()
    call_command("send_lesson_reminders", stdout=out)
    return out.getvalue().strip()


def test_a_lesson_starting_within_the_window_gets_one_reminder_with_its_audit_row():
    lesson = make_lesson(slot=future_slot(hours=3))

    assert _send() == "Queued 1 lesson reminders."

    event = OutboxEvent.objects.get(event_type="lesson.reminder")
    assert (event.aggregate_type, event.aggregate_id, event.status) == ("lesson", lesson.pk, "pending")
    assert event.payload == lesson_event_payload(lesson)
    assert LessonReminder.objects.get().lesson_id == lesson.pk
    log = AuditLog.objects.get(action="lessons.lesson.remind")
    assert (log.entity_type, log.entity_id, log.actor_id) == ("lesson", lesson.pk, None)


def test_never_twice_for_a_lesson():
    make_lesson(slot=future_slot(hours=3))
    assert _send() == "Queued 1 lesson reminders."
    assert _send() == "Queued 0 lesson reminders."
    assert len(_reminded()) == 1


def test_the_window_is_start_after_now_and_within_lesson_reminder_hours(clock, settings):
    inside = make_lesson(slot=future_slot(hours=23.5))
    beyond = make_lesson(slot=future_slot(hours=24.5))
    started = make_lesson(slot=future_slot(hours=1))
    clock.advance(hours=1, seconds=1)  # `started` began a second ago; the others are 22.5 h and 23.5 h away

    settings.LESSON_REMINDER_HOURS = 22
    assert lesson_reminders_queue() == 0
    settings.LESSON_REMINDER_HOURS = 23
    assert lesson_reminders_queue() == 1
    assert _reminded() == [inside.pk]
    settings.LESSON_REMINDER_HOURS = 24
    assert lesson_reminders_queue() == 1

    assert _reminded() == sorted([inside.pk, beyond.pk])
    assert started.pk not in _reminded()


def test_a_lesson_only_due_later_is_reminded_by_a_later_run(clock):
    lesson = make_lesson(slot=future_slot(hours=30))
    assert lesson_reminders_queue() == 0
    clock.advance(hours=7)
    assert lesson_reminders_queue() == 1
    assert _reminded() == [lesson.pk]


def test_a_lesson_canceled_inside_the_window_gets_none():
    lesson = make_lesson(slot=future_slot(hours=5))
    booking_cancel(actor=lesson.teacher, booking_id=lesson.booking_id, reason="ill")

    assert lesson_reminders_queue() == 0
    assert _reminded() == []


@pytest.mark.parametrize("reminded_first", [False, True], ids=["before-any-run", "after-the-old-one-was-reminded"])
def test_a_lesson_rescheduled_inside_the_window_the_new_lesson_gets_its_own(reminded_first):
    student = PackageFactory().student
    old = make_lesson(student=student, slot=future_slot(hours=4))
    if reminded_first:
        assert lesson_reminders_queue() == 1
    new_slot = future_slot(hours=6, teacher=old.teacher)

    booking_reschedule(actor=student, booking_id=old.booking_id, new_slot_id=new_slot.pk)
    new = Lesson.objects.get(booking__slot=new_slot)
    assert lesson_reminders_queue() == 1
    assert lesson_reminders_queue() == 0

    old.refresh_from_db()
    assert old.status == LessonStatus.CANCELED
    assert _reminded() == sorted([old.pk, new.pk] if reminded_first else [new.pk])


@pytest.mark.parametrize("status", [LessonStatus.COMPLETED, LessonStatus.NO_SHOW])
def test_only_scheduled_lessons_are_reminded(status):
    lesson = make_lesson(slot=future_slot(hours=2))
    Lesson.objects.filter(pk=lesson.pk).update(status=status)
    assert lesson_reminders_queue() == 0


def test_one_reminder_per_lesson_is_a_database_constraint():
    lesson = make_lesson(slot=future_slot(hours=2))
    LessonReminder.objects.create(lesson=lesson)
    with pytest.raises(IntegrityError), transaction.atomic():
        LessonReminder.objects.create(lesson=lesson)


def test_a_run_is_a_constant_number_of_queries(django_assert_num_queries):
    """SELECT ... FOR NO KEY UPDATE, INSERT reminders, SELECT inserted, INSERT events and audit rows (one statement).

    (+2: the atomic block is a SAVEPOINT and its RELEASE inside the test's transaction.)
    """
    for count in (2, 50):
        bulk_scheduled_lessons(count)
        with django_assert_num_queries(4 + 2):
            assert lesson_reminders_queue() == count
    assert LessonReminder.objects.count() == OutboxEvent.objects.filter(event_type="lesson.reminder").count() == 52


def test_end_to_end_the_worker_notifies_student_and_teacher(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    lesson = make_lesson(slot=future_slot(hours=3))
    start = lesson.scheduled_start_at.strftime("%Y-%m-%d %H:%M UTC")

    _send()
    call_command("run_outbox_worker", stdout=io.StringIO())

    event = OutboxEvent.objects.get(event_type="lesson.reminder")
    assert event.status == "processed"
    notes = Notification.objects.filter(title=f"Reminder: lesson at {start}")
    assert {n.user_id for n in notes} == {lesson.student_id, lesson.teacher_id}
    assert {n.status for n in notes} == {"sent"}
    assert sorted(m.to[0] for m in mail.outbox if m.subject.startswith("Reminder")) == sorted(
        [lesson.student.email, lesson.teacher.email]
    )


def test_a_window_with_nothing_due_touches_nothing(django_assert_num_queries):
    make_lesson(slot=future_slot(hours=48))
    before = (OutboxEvent.objects.count(), AuditLog.objects.count())
    with django_assert_num_queries(1 + 2):  # the SELECT (+ SAVEPOINT, RELEASE)
        assert lesson_reminders_queue() == 0
    assert (OutboxEvent.objects.count(), AuditLog.objects.count()) == before
    assert not LessonReminder.objects.exists()


def test_an_old_reminder_does_not_block_a_lesson_of_the_same_booking_slot_time(clock):
    """Reminders are per lesson: a rebooked slot (new booking, new lesson) is reminded again."""
    lesson = make_lesson(slot=future_slot(hours=5))
    assert lesson_reminders_queue() == 1
    booking_cancel(actor=lesson.teacher, booking_id=lesson.booking_id)
    again = make_lesson(slot=lesson.booking.slot)
    assert again.pk != lesson.pk
    assert lesson_reminders_queue() == 1
    assert _reminded() == sorted([lesson.pk, again.pk])
    assert timedelta(0) < again.scheduled_start_at - clock.now() <= timedelta(hours=5)
