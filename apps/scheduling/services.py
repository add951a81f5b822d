"""Writes on availability slots and weekly schedules. Other apps change them only through these functions.

Lock order: a writer that inserts slots for a teacher (`slot_create`, the
schedule generator) first takes the teacher's user row (`identity.services.user_lock`,
FOR NO KEY UPDATE); so does booking's `teacher_disable` before it locks the
teacher's slots (`teacher_future_slots_lock`). Then slots, in primary-key
order; then (booking) package -> booking -> lesson.
"""

import uuid
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime
from itertools import accumulate

from django.db import IntegrityError, OperationalError, connection, transaction

from apps.audit.services import audit_log_record
from apps.common import clock
from apps.common.errors import InvalidInput
from apps.common.locking import lock_many, lock_row, set_lock_timeout
from apps.common.queries import one_or_none
from apps.common.sql import param, pk_param, quote, update_by_pk, update_returning
from apps.identity.models import Role
from apps.identity.services import user_lock
from apps.scheduling.errors import (
    ScheduleNotFound,
    SlotInPast,
    SlotOverlap,
    SlotsBusy,
    SlotTeacherInvalid,
    SlotTimesInvalid,
    TeacherNotBookable,
    TeacherNotFound,
)
from apps.scheduling.models import AvailabilitySlot, ScheduleWindow, SlotStatus, WeeklySchedule
from apps.scheduling.open_slots_cache import open_slots_changed
from apps.scheduling.schedule_times import (
    SLOT_MINUTES_DEFAULT,
    Window,
    generate_range_problems,
    hhmm,
    schedule_problems,
    slot_times,
)
from apps.scheduling.selectors import TEACHER_APPROVED, schedule_access_check

# PostgreSQL's SQLSTATE for a NOWAIT lock that is taken
LOCK_NOT_AVAILABLE = "55P03"

# slot status transition table: from -> allowed targets
SLOT_TRANSITIONS: dict[str, frozenset[str]] = {
    SlotStatus.OPEN: frozenset({SlotStatus.HOLD, SlotStatus.CANCELED}),
    SlotStatus.HOLD: frozenset({SlotStatus.OPEN, SlotStatus.BOOKED, SlotStatus.CANCELED}),
    SlotStatus.BOOKED: frozenset({SlotStatus.OPEN, SlotStatus.CANCELED}),
    SlotStatus.CANCELED: frozenset(),
}


def slot_lock(*, slot_id, skip_locked: bool = False) -> AvailabilitySlot | None:
    """Lock one slot row for the rest of the transaction (None if it does not exist).

    With `skip_locked` (PostgreSQL), a slot another transaction holds is
    skipped and None returned: sweeps use it so they never queue behind the API.
    """
    if skip_locked and connection.features.has_select_for_update_skip_locked:
        return one_or_none(AvailabilitySlot.objects.select_for_update(skip_locked=True).filter(pk=slot_id))
    return lock_row(AvailabilitySlot, slot_id)


def slots_lock(*, slot_ids, nowait: bool = False) -> dict:
    """Lock many slots in primary-key order (the rule that keeps two lockers from deadlocking); {pk: slot}.

    With `nowait` (PostgreSQL), a slot another transaction holds raises
    SlotsBusy at once instead of waiting. That is how a caller may take a
    slot out of the global order (after a package): a lock that never waits
    cannot close a cycle of waits.
    """
    queryset = AvailabilitySlot.objects.filter(pk__in=list(slot_ids))
    if not (nowait and connection.features.has_select_for_update_nowait):
        return {slot.pk: slot for slot in lock_many(queryset)}
    try:
        with transaction.atomic():
            return {slot.pk: slot for slot in queryset.select_for_update(nowait=True).order_by("pk")}
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise SlotsBusy() from None
        raise


def slot_set_status(*, slot: AvailabilitySlot, status: str) -> AvailabilitySlot:
    """Move a locked slot along its transition table; same status is a no-op.

    Callers (booking) hold the slot's row lock; an illegal move is a
    programming error, not a user error, so it raises ValueError.
    """
    if slot.status == status:
        return slot
    if status not in SLOT_TRANSITIONS[slot.status]:
        raise ValueError(f"slot cannot move {slot.status} -> {status}")
    slot.status, slot.updated_at = status, clock.now()
    update_by_pk(AvailabilitySlot, slot.pk, status=slot.status, updated_at=slot.updated_at)
    open_slots_changed()
    return slot


def slot_take_if_open(*, slot_id, status: str, now: datetime) -> AvailabilitySlot | None:
    """Move an open slot that has not started to `status`, in one statement that also locks it.

    None when there is no such slot (unknown, not open, or started); the caller
    tells which (the hold's refusals). The hot path of a hold: one round trip
    instead of a lock and an update.
    """
    where = f"{quote('id')} = %s AND {quote('status')} = %s AND {quote('start_at')} > %s"
    params = [pk_param(AvailabilitySlot, slot_id), SlotStatus.OPEN, param(AvailabilitySlot, "start_at", now)]
    slot = update_returning(AvailabilitySlot, where=where, params=params, status=status, updated_at=now)
    if slot is not None:
        open_slots_changed()
    return slot


def slot_overlaps(*, teacher_id, start_at: datetime, end_at: datetime) -> bool:
    """Whether the teacher has a non-canceled slot sharing any instant with [start_at, end_at)."""
    return (
        AvailabilitySlot.objects.filter(teacher_id=teacher_id, start_at__lt=end_at, end_at__gt=start_at)
        .exclude(status=SlotStatus.CANCELED)
        .exists()
    )


def slot_create(*, actor, teacher_id, start_at: datetime, end_at: datetime) -> AvailabilitySlot:
    """Open a new slot for a teacher (admins only; the view checks the role).

    422 when the times are wrong (end not after start, start not in the
    future) or `teacher_id` is not a teacher's user id; 409 when it overlaps
    one of the teacher's non-canceled slots. Touching ranges (`[)`) do not overlap.

    Race safety: the teacher's user row is locked (FOR NO KEY UPDATE, which
    does not block inserts referencing the user), so creations for one
    teacher run one after another and the overlap query sees the winner's
    row. On PostgreSQL the exclusion constraint `availability_slots_no_overlap`
    is the final guard even for writers that skip this service; its violation
    arrives as IntegrityError and becomes the same 409.
    """
    if end_at <= start_at:
        raise SlotTimesInvalid()
    if start_at <= clock.now():
        raise SlotInPast()
    with transaction.atomic():
        set_lock_timeout()
        teacher = user_lock(user_id=teacher_id)
        if teacher is None or teacher.role != Role.TEACHER:
            raise SlotTeacherInvalid()
        if slot_overlaps(teacher_id=teacher.pk, start_at=start_at, end_at=end_at):
            raise SlotOverlap()
        try:
            with transaction.atomic():
                slot = AvailabilitySlot.objects.create(
                    teacher=teacher,
                    created_by_admin=actor,
                    start_at=start_at,
                    end_at=end_at,
                    status=SlotStatus.OPEN,
                )
        except IntegrityError:
            raise SlotOverlap() from None
        open_slots_changed()
        audit_log_record(
            actor=actor,
            action="scheduling.slot.create",
            entity_type="availability_slot",
            entity_id=slot.pk,
            payload={
                "teacher_id": str(teacher.pk),
                "start_at": start_at.isoformat(),
                "end_at": end_at.isoformat(),
                "status": slot.status,
            },
        )
    return slot


def slot_cancel_locked(*, actor, slot: AvailabilitySlot, reason: str | None = None, **payload) -> AvailabilitySlot:
    """Withdraw one slot whose row the caller has locked; audit `scheduling.slot.cancel`.

    The caller (booking's `slot_cancel`) has already canceled the slot's active
    booking, if any: this app cannot see bookings. `payload` adds what the
    caller knows to the audit row (the status before the cascade, the booking).
    """
    previous = slot.status
    slot_set_status(slot=slot, status=SlotStatus.CANCELED)
    audit_log_record(
        actor=actor,
        action="scheduling.slot.cancel",
        entity_type="availability_slot",
        entity_id=slot.pk,
        payload={"teacher_id": str(slot.teacher_id), "previous_status": previous, "reason": reason, **payload},
    )
    return slot


def teacher_future_slots_lock(*, teacher_id) -> list[AvailabilitySlot]:
    """Lock every non-canceled slot of the teacher that starts in the future, in primary-key order.

    The caller must hold the teacher's user row (`user_lock`) first, as every
    writer that inserts slots for a teacher does: then no new slot of theirs
    can appear behind this list until the transaction ends.
    """
    return lock_many(
        AvailabilitySlot.objects.filter(teacher_id=teacher_id, start_at__gt=clock.now()).exclude(
            status=SlotStatus.CANCELED
        )
    )


def slots_cancel_locked(*, slot_ids) -> int:
    """Move many slots the caller has locked to `canceled` in one UPDATE; return how many moved.

    For cascades (a teacher disabled) whose caller writes one audit row for
    the whole set; single slots go through `slot_cancel_locked`.
    """
    changed = (
        AvailabilitySlot.objects.filter(pk__in=list(slot_ids))
        .exclude(status=SlotStatus.CANCELED)
        .update(status=SlotStatus.CANCELED, updated_at=clock.now())
    )
    if changed:
        open_slots_changed()
    return changed


# --- weekly schedules ----------------------------------------------------------------------------


def _lock_teacher(*, teacher_id):
    """Lock the teacher's user row: schedule writes, generation and slot creation for one teacher serialize on it."""
    teacher = user_lock(user_id=teacher_id)
    if teacher is None or teacher.role != Role.TEACHER:
        raise TeacherNotFound()
    return teacher


def schedule_windows(*, schedule_id) -> list[Window]:
    """A schedule's windows, ordered by weekday and start."""
    rows = ScheduleWindow.objects.filter(schedule_id=schedule_id).values_list("weekday", "start_minute", "end_minute")
    return sorted(Window(*row) for row in rows)


def schedule_replace(
    *, actor, teacher_id, windows: list[Window], slot_minutes: int = SLOT_MINUTES_DEFAULT, timezone: str | None = None
) -> WeeklySchedule:
    """Create or replace a teacher's weekly schedule, whole (admin, or the teacher themself).

    `timezone` defaults to the teacher's own. Invalid rules are a 400 naming
    each bad field and window (`schedule_problems`); nothing changes then. A
    replacement identical to the current schedule writes nothing (no audit row,
    `updated_at` kept). Audit `scheduling.schedule.update`.
    """
    schedule_access_check(actor=actor, teacher_id=teacher_id)
    with transaction.atomic():
        set_lock_timeout()
        teacher = _lock_teacher(teacher_id=teacher_id)
        timezone = timezone or teacher.timezone
        problems = schedule_problems(windows=windows, slot_minutes=slot_minutes, timezone=timezone)
        if problems:
            raise InvalidInput(details=problems)
        windows = sorted(windows)
        schedule = one_or_none(WeeklySchedule.objects.filter(teacher_id=teacher.pk))
        created = schedule is None
        if created:
            schedule = WeeklySchedule.objects.create(teacher=teacher, timezone=timezone, slot_minutes=slot_minutes)
        else:
            unchanged = (schedule.timezone, schedule.slot_minutes) == (timezone, slot_minutes)
            if unchanged and schedule_windows(schedule_id=schedule.pk) == windows:
                return schedule
            schedule.timezone, schedule.slot_minutes = timezone, slot_minutes
            schedule.save(update_fields=["timezone", "slot_minutes", "updated_at"])
            ScheduleWindow.objects.filter(schedule=schedule).delete()
        ScheduleWindow.objects.bulk_create(
            [
                ScheduleWindow(
                    schedule=schedule, weekday=w.weekday, start_minute=w.start_minute, end_minute=w.end_minute
                )
                for w in windows
            ]
        )
        audit_log_record(
            actor=actor,
            action="scheduling.schedule.update",
            entity_type="weekly_schedule",
            entity_id=schedule.pk,
            payload={
                "teacher_id": str(teacher.pk),
                "created": created,
                "timezone": timezone,
                "slot_minutes": slot_minutes,
                "windows": [
                    {"weekday": w.weekday, "start": hhmm(w.start_minute), "end": hhmm(w.end_minute)} for w in windows
                ],
            },
        )
    return schedule


@dataclass(frozen=True)
class GenerateCounts:
    """What one `generate` did: slots created, and candidates skipped (overlapping a slot, or not in the future)."""

    created: int = 0
    skipped_existing: int = 0
    skipped_past: int = 0

    def __add__(self, other: "GenerateCounts") -> "GenerateCounts":
        return GenerateCounts(
            created=self.created + other.created,
            skipped_existing=self.skipped_existing + other.skipped_existing,
            skipped_past=self.skipped_past + other.skipped_past,
        )


def _overlap_test(busy: list[tuple[datetime, datetime]]):
    """A function telling whether [start, end) overlaps any of `busy` (sorted by start), in O(log n)."""
    starts = [start for start, _ in busy]
    furthest_end = list(accumulate((end for _, end in busy), max))  # of the slots starting up to i

    def overlaps(start: datetime, end: datetime) -> bool:
        before_end = bisect_left(starts, end)  # slots starting before `end`
        return before_end > 0 and furthest_end[before_end - 1] > start

    return overlaps


def schedule_generate(*, actor, teacher_id, from_date: date, to_date: date) -> GenerateCounts:
    """Cut the teacher's weekly schedule into open slots for local dates `from_date`..`to_date` (inclusive).

    Admin or the teacher themself; `actor=None` is cron (`generate_slots`).
    The teacher must be active with an approved profile (422), have a schedule
    (404), and the range be at most 92 days (400). How windows become UTC
    slots across daylight-saving changes: `apps.scheduling.schedule_times`.
    A slot that would overlap one of the teacher's non-canceled slots, or that
    does not start in the future, is skipped and counted, so a second run creates nothing.

    Race safety: the teacher's user row is locked first, so generations, schedule
    replacements and `slot_create` for one teacher run one after another, and
    the overlap query sees every committed slot. The slots go in with one bulk
    INSERT ... ON CONFLICT DO NOTHING: on PostgreSQL the exclusion constraint
    `availability_slots_no_overlap` drops any row that still overlaps (a writer
    that skipped the lock), so no IntegrityError can surface; such rows are
    counted as skipped_existing. `created_by_admin_id` is the actor when an admin
    generates, null for the teacher and for cron. Audit `scheduling.slots.generate`.
    """
    schedule_access_check(actor=actor, teacher_id=teacher_id)
    problems = generate_range_problems(from_date=from_date, to_date=to_date, today=clock.now().date())
    if problems:
        raise InvalidInput(details=problems)
    with transaction.atomic():
        set_lock_timeout()
        teacher = _lock_teacher(teacher_id=teacher_id)
        schedule = one_or_none(
            WeeklySchedule.objects.filter(teacher_id=teacher.pk).values(
                "id", "timezone", "slot_minutes", TEACHER_APPROVED
            )
        )
        if schedule is None:
            raise ScheduleNotFound()
        if not (teacher.is_active and schedule[TEACHER_APPROVED]):
            raise TeacherNotBookable()
        times = list(
            slot_times(
                windows=schedule_windows(schedule_id=schedule["id"]),
                timezone=schedule["timezone"],
                slot_minutes=schedule["slot_minutes"],
                from_date=from_date,
                to_date=to_date,
            )
        )
        now = clock.now()
        future = [(start, end) for start, end in times if start > now]
        fresh = []
        if future:
            busy = list(
                AvailabilitySlot.objects.filter(
                    teacher_id=teacher.pk, start_at__lt=max(end for _, end in future), end_at__gt=future[0][0]
                )
                .exclude(status=SlotStatus.CANCELED)
                .order_by("start_at")
                .values_list("start_at", "end_at")
            )
            overlaps = _overlap_test(busy)
            fresh = [(start, end) for start, end in future if not overlaps(start, end)]
        created = _slots_insert(teacher=teacher, actor=actor, times=fresh)
        counts = GenerateCounts(
            created=created, skipped_existing=len(future) - created, skipped_past=len(times) - len(future)
        )
        audit_log_record(
            actor=actor,
            action="scheduling.slots.generate",
            entity_type="weekly_schedule",
            entity_id=schedule["id"],
            payload={
                "teacher_id": str(teacher.pk),
                "from_date": from_date.isoformat(),
                "to_date": to_date.isoformat(),
                "created": counts.created,
                "skipped_existing": counts.skipped_existing,
                "skipped_past": counts.skipped_past,
            },
        )
    return counts


def _slots_insert(*, teacher, actor, times: list[tuple[datetime, datetime]]) -> int:
    """Insert open slots in one bulk statement (rows the exclusion constraint refuses are dropped); how many went in."""
    if not times:
        return 0
    admin = actor if actor is not None and actor.is_admin else None
    slots = [
        AvailabilitySlot(
            id=uuid.uuid4(), teacher=teacher, created_by_admin=admin, start_at=start, end_at=end, status=SlotStatus.OPEN
        )
        for start, end in times
    ]
    # One statement: on PostgreSQL Django sends the rows as arrays (INSERT ... SELECT * FROM UNNEST(...)),
    # so even 92 days of 15-minute slots around the clock (8,832 rows) are 8 bind parameters.
    AvailabilitySlot.objects.bulk_create(slots, ignore_conflicts=True)
    # ON CONFLICT DO NOTHING does not say which rows it dropped: count the ones that are there.
    created = AvailabilitySlot.objects.filter(pk__in=[slot.pk for slot in slots]).count()
    if created:
        open_slots_changed()
    return created
