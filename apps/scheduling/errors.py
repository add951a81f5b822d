"""Slot errors in the school's language, mapped to the SPEC codes by their base class."""

from apps.common.errors import BusinessRuleViolation, Conflict, Forbidden, NotFound


class SlotNotFound(NotFound):
    default_message = "Slot not found."


class SlotTimesInvalid(BusinessRuleViolation):
    default_message = "A slot must end after it starts."


class SlotInPast(BusinessRuleViolation):
    default_message = "A slot must start in the future."


class SlotTeacherInvalid(BusinessRuleViolation):
    default_message = "teacher_id must be the id of a user with role teacher."


class SlotOverlap(Conflict):
    default_message = "The teacher already has a slot that overlaps this time."


class SlotsBusy(Conflict):
    default_message = "The slot is being changed by another request; retry shortly."


class TeacherNotFound(NotFound):
    default_message = "No teacher with this id."


class ScheduleNotFound(NotFound):
    default_message = "This teacher has no weekly schedule yet."


class ScheduleForbidden(Forbidden):
    default_message = "Only an admin or the teacher themself may manage this schedule."


class TeacherNotBookable(BusinessRuleViolation):
    default_message = "Slots are generated only for an active teacher whose profile is approved."
