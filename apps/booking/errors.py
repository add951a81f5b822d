"""Booking's domain errors, named in the school's language (status codes come from the base classes)."""

from apps.common.errors import BusinessRuleViolation, Conflict, Forbidden, NotFound


class BookingNotFound(NotFound):
    default_message = "Booking not found."


class SlotNotFound(NotFound):
    default_message = "Slot not found."


class PackageNotFound(NotFound):
    default_message = "Package not found."


class BookingAccessDenied(Forbidden):
    default_message = "Only the booking's student, its teacher or an admin may do this."


class RescheduleAccessDenied(Forbidden):
    default_message = "Only the booking's student or an admin may reschedule it."


class TeacherNotFound(NotFound):
    default_message = "Teacher not found."


class SlotCancelDenied(Forbidden):
    default_message = "Only the slot's teacher or an admin may cancel it."


class PackageNotOwned(Forbidden):
    default_message = "This package belongs to another student."


class OnlyStudentsHold(Forbidden):
    default_message = "Only students can hold a slot."


class SlotNotAvailable(BusinessRuleViolation):
    default_message = "The slot is not open for booking."


class PackageNotUsable(BusinessRuleViolation):
    default_message = "The package is not active or has expired."


class PackageExhausted(BusinessRuleViolation):
    default_message = "The package has no free lesson left."


class HoldExpired(BusinessRuleViolation):
    default_message = "The hold has expired; the slot was released."


class BookingNotConfirmed(BusinessRuleViolation):
    default_message = "Only a confirmed booking can be rescheduled."


class SameSlotReschedule(BusinessRuleViolation):
    default_message = "The new slot is the booking's current slot."


class SlotStarted(BusinessRuleViolation):
    default_message = "The slot has already started."


class PackageNotCancelable(BusinessRuleViolation):
    default_message = "Only an active package can be canceled."


class PackageHasUpcomingBookings(BusinessRuleViolation):
    default_message = "The package has upcoming confirmed bookings; cancel them first, or send force=true."


class PackageBusy(Conflict):
    default_message = "The package's bookings kept changing; retry shortly."


class BookingStateConflict(Conflict):
    default_message = "The booking's state does not allow this."
