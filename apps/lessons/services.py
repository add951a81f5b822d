"""Writes on lessons, and the lesson status machine.

Lessons are born from a booking confirmation (`lesson_create_for_booking`,
called by booking inside its own transaction) and die with the booking's
cancellation (`lesson_cancel_for_booking`). The teacher or an admin moves a
started lesson to `completed` or `no_show`. Every change raises the lesson's
`sequence` (the iCalendar SEQUENCE calendar clients compare). The reminder
cron (`lesson_reminders_queue`) and the calendar feed tokens live here too.

This app sits below booking: it never imports it. Booking hands these
services plain values (ids and times) from the booking row it has locked.

Lock order (global): slot -> package -> booking -> lesson.
"""

import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef

from apps.audit.services import (
    audit_log_record,
    audit_logs_record_many,
    outbox_event_add,
    outbox_events_add_many,
    recorded_atomic,
)
from apps.common import clock
from apps.common.locking import lock_one, set_lock_timeout
from apps.common.page_cache import participant_scopes, scopes_changed
from apps.common.queries import one_or_none
from apps.common.sql import Raw, insert, param, quote, update_returning
from apps.lessons.errors import (
    LessonAccessDenied,
    LessonAlreadyFinished,
    LessonNotFound,
    LessonNotStarted,
    LessonTransitionNotAllowed,
)
from apps.lessons.models import CalendarFeed, Lesson, LessonReminder, LessonStatus
from apps.lessons.selectors import LESSON_LISTS

# Lesson status machine: from -> allowed targets. The three targets are final.
LESSON_TRANSITIONS: dict[str, frozenset[str]] = {
    LessonStatus.SCHEDULED: frozenset({LessonStatus.COMPLETED, LessonStatus.NO_SHOW, LessonStatus.CANCELED}),
    LessonStatus.COMPLETED: frozenset(),
    LessonStatus.CANCELED: frozenset(),
    LessonStatus.NO_SHOW: frozenset(),
}
# Moves a teacher or admin may ask for directly; cancellation goes through the booking.
LESSON_MANUAL_TARGETS: frozenset[str] = frozenset({LessonStatus.COMPLETED, LessonStatus.NO_SHOW})
# Moves that need the lesson to have started.
LESSON_TARGETS_AFTER_START: frozenset[str] = frozenset({LessonStatus.COMPLETED, LessonStatus.NO_SHOW})


def lesson_event_payload(lesson: Lesson) -> dict[str, Any]:
    """The outbox payload contract for aggregate_type "lesson"."""
    return {
        "lesson_id": str(lesson.pk),
        "booking_id": str(lesson.booking_id),
        "student_id": str(lesson.student_id),
        "teacher_id": str(lesson.teacher_id),
        "scheduled_start_at": lesson.scheduled_start_at.isoformat(),
        "scheduled_end_at": lesson.scheduled_end_at.isoformat(),
        "status": lesson.status,
    }


def lesson_lists_changed(*, student_id, teacher_id) -> None:
    """Call in any transaction that writes a lesson row: its student's, its teacher's and the admins'
    cached lesson lists are recomputed after the commit (apps/common/page_cache.py)."""
    scopes_changed(*participant_scopes(LESSON_LISTS, student_id=student_id, teacher_id=teacher_id))


def _lesson_changed(lesson: Lesson, *fields: str) -> None:
    """Save the changed fields of a locked lesson, raising its `sequence` (calendar clients then take the change).

    Every change of an existing lesson goes through here, so its cached lists are invalidated here too.
    """
    lesson.sequence += 1
    lesson.save(update_fields=[*fields, "sequence", "updated_at"])
    lesson_lists_changed(student_id=lesson.student_id, teacher_id=lesson.teacher_id)


def _lesson_move(lesson: Lesson, target: str) -> None:
    if target not in LESSON_TRANSITIONS[lesson.status]:
        raise LessonTransitionNotAllowed(
            f"A lesson cannot move from {lesson.status} to {target}.",
            details={"status": [f"{lesson.status} -> {target} is not allowed."]},
        )
    lesson.status = target


def lesson_create_for_booking(
    *,
    booking_id: UUID,
    student_id: UUID,
    teacher_id: UUID,
    start_at: datetime,
    end_at: datetime,
    topic: str | None = None,
    notes: str | None = None,
) -> Lesson:
    """Create the `scheduled` lesson of a confirmed booking, for its slot's times.

    Runs inside the caller's transaction, which holds the booking's row lock;
    adds the `lesson.created` outbox event. The `lessons.booking_id` unique
    constraint is the last guard against a second lesson (IntegrityError).
    """
    lesson = insert(
        Lesson(
            booking_id=booking_id,
            student_id=student_id,
            teacher_id=teacher_id,
            scheduled_start_at=start_at,
            scheduled_end_at=end_at,
            status=LessonStatus.SCHEDULED,
            topic=topic,
            notes=notes,
        )
    )
    lesson_lists_changed(student_id=student_id, teacher_id=teacher_id)
    outbox_event_add(
        aggregate_type="lesson",
        aggregate_id=lesson.pk,
        event_type="lesson.created",
        payload=lesson_event_payload(lesson),
    )
    return lesson


def lesson_cancel_for_booking(*, booking_id: UUID) -> Lesson | None:
    """Cancel the lesson of a booking being canceled (None when it has none, or it is canceled already).

    Runs inside the caller's transaction after the booking is locked. One
    conditional UPDATE moves a scheduled lesson to canceled (raising its
    `sequence`) and locks it, last in the global order; a completed or no-show
    lesson cannot be undone, so the whole cancellation is refused.
    """
    where = f"{quote('booking_id')} = %s AND {quote('status')} = %s"
    lesson = update_returning(
        Lesson,
        where=where,
        params=[param(Lesson, "booking_id", booking_id), LessonStatus.SCHEDULED],
        status=LessonStatus.CANCELED,
        sequence=Raw(f"{quote('sequence')} + 1"),
        updated_at=clock.now(),
    )
    if lesson is None:
        status = one_or_none(Lesson.objects.filter(booking_id=booking_id).values_list("status", flat=True))
        if status not in (None, LessonStatus.CANCELED):
            raise LessonAlreadyFinished()
        return None
    lesson_lists_changed(student_id=lesson.student_id, teacher_id=lesson.teacher_id)
    outbox_event_add(
        aggregate_type="lesson",
        aggregate_id=lesson.pk,
        event_type="lesson.canceled",
        payload=lesson_event_payload(lesson),
    )
    return lesson


def lesson_update(*, actor, lesson_id, data: dict[str, Any]) -> Lesson:
    """Change a lesson's status, topic, notes or homework (admin or the lesson's teacher).

    Status follows LESSON_TRANSITIONS restricted to `completed`/`no_show`, and
    only once the lesson has started; asking for the current status is no
    move. Writes an audit row only when something changed.
    """
    lesson = one_or_none(Lesson.objects.filter(pk=lesson_id).only("id", "teacher_id"))
    if lesson is None:
        raise LessonNotFound()
    if not (actor.is_admin or lesson.teacher_id == actor.pk):
        raise LessonAccessDenied()
    with transaction.atomic():
        set_lock_timeout()
        lesson = lock_one(Lesson.objects.all(), lesson_id)
        changes: dict[str, list] = {}
        target = data.get("status")
        if target is not None and target != lesson.status:
            if target not in LESSON_MANUAL_TARGETS:
                raise LessonTransitionNotAllowed(
                    f"A lesson cannot be moved to {target} directly.",
                    details={"status": ["Only completed or no_show; cancel the booking to cancel its lesson."]},
                )
            previous = lesson.status
            _lesson_move(lesson, target)
            if target in LESSON_TARGETS_AFTER_START and lesson.scheduled_start_at > clock.now():
                raise LessonNotStarted()
            changes["status"] = [previous, target]
        for field in ("topic", "notes", "homework"):
            if field in data and data[field] != getattr(lesson, field):
                changes[field] = [getattr(lesson, field), data[field]]
                setattr(lesson, field, data[field])
        if changes:
            _lesson_changed(lesson, *changes)
            audit_log_record(
                actor=actor,
                action="lessons.lesson.update",
                entity_type="lesson",
                entity_id=lesson.pk,
                payload={"changes": changes},
            )
    return lesson


# --- reminders (cron) ------------------------------------------------------------------------------


def lesson_reminders_queue(*, hours: int | None = None) -> int:
    """Queue one `lesson.reminder` outbox event per scheduled lesson starting within `hours` (LESSON_REMINDER_HOURS).

    One transaction, a constant number of statements whatever the count:

    1. the due lessons (scheduled, not started, no reminder yet) are read and
       row-locked in one SELECT ... FOR NO KEY UPDATE SKIP LOCKED. A lesson
       another transaction holds (one being canceled, or taken by another
       copy) is skipped and looked at again by the next run. The status is
       read under the lock: a lesson canceled before is not selected, one
       canceled after waits for our commit. (NO KEY UPDATE: excluded by a
       cancel's or another copy's lock, but not by the foreign-key check of a
       row pointing at the lesson, so a reminder insert cannot deadlock on one.)
    2. their `lesson_reminders` rows go in with one INSERT ... ON CONFLICT DO
       NOTHING. The unique `lesson_id` makes a second reminder impossible,
       even when another copy committed one between our SELECT and our INSERT;
    3. the rows that really went in get their outbox events and audit rows,
       both in one statement (`recorded_atomic`).

    Returns how many reminders this call queued.
    """
    hours = settings.LESSON_REMINDER_HOURS if hours is None else hours
    with recorded_atomic():
        now = clock.now()
        due = list(
            Lesson.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(
                status=LessonStatus.SCHEDULED,
                scheduled_start_at__gt=now,
                scheduled_start_at__lte=now + timedelta(hours=hours),
            )
            .exclude(Exists(LessonReminder.objects.filter(lesson_id=OuterRef("pk"))))
            .order_by("pk")
        )
        if not due:
            return 0
        drafts = {uuid.uuid4(): lesson for lesson in due}
        LessonReminder.objects.bulk_create(
            [LessonReminder(id=reminder_id, lesson=lesson) for reminder_id, lesson in drafts.items()],
            ignore_conflicts=True,
        )
        # Our own ids tell which rows went in; a conflict (another copy was first) left no row of ours.
        inserted = set(LessonReminder.objects.filter(pk__in=list(drafts)).order_by().values_list("pk", flat=True))
        reminded = [lesson for reminder_id, lesson in drafts.items() if reminder_id in inserted]
        if not reminded:
            return 0
        outbox_events_add_many(
            aggregate_type="lesson",
            event_type="lesson.reminder",
            events=[(lesson.pk, lesson_event_payload(lesson)) for lesson in reminded],
        )
        audit_logs_record_many(
            actor=None,
            action="lessons.lesson.remind",
            entity_type="lesson",
            entries=[(lesson.pk, {"scheduled_start_at": lesson.scheduled_start_at.isoformat()}) for lesson in reminded],
        )
    return len(reminded)


# --- calendar feeds -----------------------------------------------------------------------------------


def calendar_feed_token_new() -> str:
    """A fresh feed secret: 256 random bits, URL-safe base64 (`[A-Za-z0-9_-]`, never a `/` or `.`)."""
    return secrets.token_urlsafe(32)


def calendar_feed_get_or_create(*, user) -> CalendarFeed:
    """The user's calendar feed, created with a new secret on first use (audited then)."""
    feed = one_or_none(CalendarFeed.objects.filter(user_id=user.pk))
    if feed is not None:
        return feed
    with transaction.atomic():
        # get_or_create: of two first requests racing, the unique user_id lets one insert and the other read it.
        feed, created = CalendarFeed.objects.get_or_create(
            user_id=user.pk, defaults={"token": calendar_feed_token_new()}
        )
        if created:
            audit_log_record(
                actor=user, action="lessons.calendar_feed.create", entity_type="calendar_feed", entity_id=feed.pk
            )
    return feed


def calendar_feed_rotate(*, user) -> CalendarFeed:
    """Give the user's feed a new secret; the old URL answers 404 from the commit on."""
    with transaction.atomic():
        set_lock_timeout()
        feed, created = CalendarFeed.objects.select_for_update().get_or_create(
            user_id=user.pk, defaults={"token": calendar_feed_token_new()}
        )
        if not created:
            feed.token = calendar_feed_token_new()
            feed.save(update_fields=["token", "updated_at"])
        audit_log_record(
            actor=user, action="lessons.calendar_feed.rotate", entity_type="calendar_feed", entity_id=feed.pk
        )
    return feed
