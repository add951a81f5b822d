"""Reminders and calendar feeds under concurrency, on real PostgreSQL with real processes and threads.

- two `send_lesson_reminders` processes at once: exactly one reminder per lesson;
- a copy that reads a lesson just before another copy's reminder commits: the unique
  `lesson_reminders.lesson_id` (not timing) stops the second event;
- a lesson being canceled while the command runs is skipped, and never reminded once canceled;
- two first `GET /calendar/feed` at once: one feed, one secret.
"""

import threading
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction

from apps.audit.models import AuditLog, OutboxEvent
from apps.audit.services import outbox_event_add
from apps.booking.services import booking_cancel
from apps.identity.tests.factories import StudentFactory
from apps.lessons.models import CalendarFeed, Lesson, LessonReminder
from apps.lessons.services import calendar_feed_get_or_create, lesson_event_payload
from apps.lessons.tests.factories import bulk_scheduled_lessons, make_lesson
from tests.process_helpers import (
    child_database_url,
    child_env,
    kill_group,
    manage_py,
    require_postgresql,
    tail,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    require_postgresql()


def _reminder_events() -> Counter:
    return Counter(OutboxEvent.objects.filter(event_type="lesson.reminder").values_list("aggregate_id", flat=True))


def _start(log: Path, *, application_name: str | None = None):
    env = child_env()
    if application_name:
        env["DATABASE_URL"] = child_database_url(application_name=application_name)
    return manage_py("send_lesson_reminders", env=env, log=log)


def _finish(process, log: Path) -> int:
    """Wait for a command run; return how many reminders it says it queued."""
    try:
        assert process.wait(timeout=90) == 0, tail(log)
    finally:
        kill_group(process)
    lines = [line for line in log.read_text().splitlines() if line.startswith("Queued ")]
    assert lines, tail(log)
    return int(lines[-1].split()[1])


def _waiting_on_a_lock(application_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # inside a transaction the view is otherwise frozen
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = %s AND wait_event_type = 'Lock'",
            [application_name],
        )
        return cursor.fetchone()[0] > 0


def test_two_processes_at_once_queue_exactly_one_reminder_per_lesson(tmp_logs):
    lessons, queued = [], []
    for round_ in range(3):
        lessons += bulk_scheduled_lessons(
            300, first_start_in=timedelta(hours=1 + 6 * round_), length=timedelta(minutes=1)
        )
        logs = [tmp_logs / f"round{round_}-{copy}.log" for copy in ("a", "b")]
        processes = [_start(log) for log in logs]
        queued.append([_finish(process, log) for process, log in zip(processes, logs, strict=True)])
        assert sum(queued[-1]) == 300, queued

    events = _reminder_events()
    assert set(events) == {lesson.pk for lesson in lessons}
    assert set(events.values()) == {1}
    assert LessonReminder.objects.count() == AuditLog.objects.filter(action="lessons.lesson.remind").count() == 900
    print(f"\nreminders queued per round by the two copies: {queued}")


@pytest.mark.parametrize("other_copy_commits", [True, False], ids=["other-copy-commits", "other-copy-rolls-back"])
def test_the_unique_reminder_row_decides_a_race_not_timing(tmp_logs, other_copy_commits):
    """A writer has inserted lesson 0's reminder (and event) but not committed, without the lesson's row lock:
    as another copy whose commit lands between our SELECT and our INSERT. Our command reads lesson 0 as due
    (it cannot see the row), inserts, and waits on the unique index. If the other commits, ours queues
    nothing for lesson 0; if it rolls back, ours does."""
    lessons = bulk_scheduled_lessons(5)
    name = f"reminders-{uuid.uuid4().hex[:8]}"
    log = tmp_logs / "reminders.log"
    process = None

    class OtherCopyRolledBack(Exception):
        pass

    try:
        with transaction.atomic():
            LessonReminder.objects.create(lesson=lessons[0])
            outbox_event_add(
                aggregate_type="lesson",
                aggregate_id=lessons[0].pk,
                event_type="lesson.reminder",
                payload=lesson_event_payload(lessons[0]),
            )
            process = _start(log, application_name=name)
            assert wait_for(lambda: _waiting_on_a_lock(name), timeout=60), tail(log)
            if not other_copy_commits:
                raise OtherCopyRolledBack()
    except OtherCopyRolledBack:
        pass

    assert _finish(process, log) == (4 if other_copy_commits else 5)
    events = _reminder_events()
    assert set(events) == {lesson.pk for lesson in lessons}
    assert set(events.values()) == {1}


@pytest.mark.parametrize("cancel_commits", [True, False], ids=["cancel-commits", "cancel-rolls-back"])
def test_a_lesson_being_canceled_is_skipped_and_never_reminded_once_canceled(tmp_logs, cancel_commits):
    lesson = make_lesson()  # two days ahead: outside the window until we move it
    Lesson.objects.filter(pk=lesson.pk).update(scheduled_start_at=lesson.scheduled_start_at - timedelta(hours=46))
    other = bulk_scheduled_lessons(3)

    class CancelFailed(Exception):
        pass

    try:
        with transaction.atomic():
            booking_cancel(actor=lesson.teacher, booking_id=lesson.booking_id)  # holds the lesson's row lock
            log = tmp_logs / "during.log"
            # The command does not wait for the cancel: it skips the locked lesson and does the rest.
            assert _finish(_start(log), log) == 3
            if not cancel_commits:
                raise CancelFailed()
    except CancelFailed:
        pass

    log = tmp_logs / "after.log"
    assert _finish(_start(log), log) == (0 if cancel_commits else 1)
    events = _reminder_events()
    expected = {o.pk for o in other} | (set() if cancel_commits else {lesson.pk})
    assert set(events) == expected
    assert set(events.values()) == {1}


def test_two_first_feed_requests_at_once_make_one_feed(client_for):
    student = StudentFactory()
    barrier = threading.Barrier(8)
    urls, errors = [], []

    def ask():
        try:
            barrier.wait(timeout=30)
            urls.append(calendar_feed_get_or_create(user=student).token)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert len(set(urls)) == 1 and len(urls) == 8
    assert CalendarFeed.objects.filter(user=student).count() == 1
    assert AuditLog.objects.filter(action="lessons.calendar_feed.create").count() == 1
