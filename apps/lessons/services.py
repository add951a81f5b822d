"""Writes on lessons, and the lesson status machine.

Lessons are born from a booking confirmation (`lesson_create_for_booking`,
called by booking inside its own transaction) and die with the booking's
cancellation (`lesson_cancel_for_booking`). The teacher or an admin moves a
started lesson to `completed` or `no_show`.

This app sits below booking: it never imports it. Booking hands these
services plain values (ids and times) from the booking row it has locked.

Lock order (global): slot -> package -> booking -> lesson.
"""

from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction

from apps.audit.services import audit_log_record, outbox_event_add
from apps.common import clock
from apps.common.locking import lock_one, set_lock_timeout
from apps.common.page_cache import participant_scopes, scopes_changed
from apps.common.queries import one_or_none
from apps.lessons.errors import (
    LessonAccessDenied,
    LessonAlreadyFinished,
    LessonNotFound,
    LessonNotStarted,
    LessonTransitionNotAllowed,
)
from apps.lessons.models import Lesson, LessonStatus
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


def _lesson_save(lesson: Lesson, fields: list[str]) -> None:
    """Write changed columns of an existing lesson (every change goes through here)."""
    lesson.save(update_fields=[*fields, "updated_at"])
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
    lesson = Lesson.objects.create(
        booking_id=booking_id,
        student_id=student_id,
        teacher_id=teacher_id,
        scheduled_start_at=start_at,
        scheduled_end_at=end_at,
        status=LessonStatus.SCHEDULED,
        topic=topic,
        notes=notes,
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
    """Cancel the lesson of a booking being canceled (None when it has none).

    Runs inside the caller's transaction after the booking is locked; locks the
    lesson (last in the global order). An already canceled lesson is left as
    is; a completed or no-show lesson cannot be undone, so the whole
    cancellation is refused.
    """
    lesson = one_or_none(Lesson.objects.select_for_update().filter(booking_id=booking_id))
    if lesson is None or lesson.status == LessonStatus.CANCELED:
        return lesson
    if lesson.status != LessonStatus.SCHEDULED:
        raise LessonAlreadyFinished()
    _lesson_move(lesson, LessonStatus.CANCELED)
    _lesson_save(lesson, ["status"])
    outbox_event_add(
        aggregate_type="lesson",
        aggregate_id=lesson.pk,
        event_type="lesson.canceled",
        payload=lesson_event_payload(lesson),
    )
    return lesson


def lesson_update(*, actor, lesson_id, data: dict[str, Any]) -> Lesson:
    """Change a lesson's status, topic or notes (admin or the lesson's teacher).

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
        for field in ("topic", "notes"):
            if field in data and data[field] != getattr(lesson, field):
                changes[field] = [getattr(lesson, field), data[field]]
                setattr(lesson, field, data[field])
        if changes:
            _lesson_save(lesson, [*changes])
            audit_log_record(
                actor=actor,
                action="lessons.lesson.update",
                entity_type="lesson",
                entity_id=lesson.pk,
                payload={"changes": changes},
            )
    return lesson
