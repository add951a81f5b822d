"""Reads on availability slots and weekly schedules."""

from datetime import datetime

from django.db.models import QuerySet

from apps.common import clock
from apps.common.queries import one_or_none
from apps.identity.models import Role, User
from apps.scheduling.errors import ScheduleForbidden, ScheduleNotFound, SlotNotFound, TeacherNotFound
from apps.scheduling.models import AvailabilitySlot, SlotStatus, WeeklySchedule

# Whether the schedule's teacher has an approved profile. Approval is apps.teachers' data, a sibling app
# scheduling may not import; it is read here by the relation's name, in the same query as the schedule, so
# `schedule_generate` checks it under the teacher's row lock (the one link of this kind, see README "Layers").
TEACHER_APPROVED = "teacher__teacher_profile__is_approved"


def slot_get(*, slot_id) -> AvailabilitySlot:
    """One slot by id, without a lock (use services.slot_lock to change it); SlotNotFound (404) if unknown."""
    slot = one_or_none(AvailabilitySlot.objects.filter(pk=slot_id))
    if slot is None:
        raise SlotNotFound()
    return slot


def open_slot_list(
    *, teacher_id=None, start_from: datetime | None = None, start_to: datetime | None = None
) -> QuerySet[AvailabilitySlot]:
    """Open slots that start in the future, soonest first; `start_from <= start_at < start_to` when given.

    `status = 'open'` plus ordering by (start_at, id) matches the partial index
    `slots_open_idx`, so a page is an index range scan.
    """
    queryset = AvailabilitySlot.objects.filter(status=SlotStatus.OPEN, start_at__gt=clock.now())
    if teacher_id is not None:
        queryset = queryset.filter(teacher_id=teacher_id)
    if start_from is not None:
        queryset = queryset.filter(start_at__gte=start_from)
    if start_to is not None:
        queryset = queryset.filter(start_at__lt=start_to)
    return queryset.order_by("start_at", "id")


def teacher_open_slot_count(*, teacher_id) -> int:
    """How many open slots of the teacher students could still hold (open, starting in the future)."""
    return AvailabilitySlot.objects.filter(
        teacher_id=teacher_id, status=SlotStatus.OPEN, start_at__gt=clock.now()
    ).count()


def schedule_access_check(*, actor, teacher_id) -> None:
    """Admins manage every teacher's schedule, a teacher only their own (403); `actor=None` is cron."""
    if actor is None or actor.is_admin:
        return
    if actor.is_teacher and str(actor.pk) == str(teacher_id):
        return
    raise ScheduleForbidden()


def schedule_get(*, viewer, teacher_id) -> WeeklySchedule:
    """A teacher's weekly schedule with its windows (admin, or that teacher: 403 otherwise).

    404 when the id is not a teacher's, or the teacher has no schedule yet.
    """
    schedule_access_check(actor=viewer, teacher_id=teacher_id)
    schedule = one_or_none(
        WeeklySchedule.objects.filter(teacher_id=teacher_id, teacher__role=Role.TEACHER).prefetch_related("windows")
    )
    if schedule is None:
        if not User.objects.filter(pk=teacher_id, role=Role.TEACHER).exists():
            raise TeacherNotFound()
        raise ScheduleNotFound()
    return schedule


def schedules_due_for_generation() -> list[tuple]:
    """(teacher_id, timezone) of every active teacher with an approved profile and a schedule, by teacher id."""
    return list(
        WeeklySchedule.objects.filter(teacher__is_active=True, teacher__role=Role.TEACHER, **{TEACHER_APPROVED: True})
        .order_by("teacher_id")
        .values_list("teacher_id", "timezone")
    )
