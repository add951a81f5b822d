"""Lessons' domain errors (status codes come from the base classes)."""

from apps.common.errors import BusinessRuleViolation, Conflict, Forbidden, NotFound


class LessonNotFound(NotFound):
    default_message = "Lesson not found."


class LessonBookingNotFound(NotFound):
    default_message = "Booking not found."


class LessonAccessDenied(Forbidden):
    default_message = "Only an admin or the lesson's teacher may change it."


class LessonCreateDenied(Forbidden):
    default_message = "Only an admin may create a lesson."


class BookingNotConfirmedForLesson(BusinessRuleViolation):
    default_message = "A lesson needs a confirmed booking."


class LessonAlreadyExists(Conflict):
    default_message = "This booking already has a lesson."


class LessonTransitionNotAllowed(BusinessRuleViolation):
    default_message = "The lesson cannot move to this status."


class LessonNotStarted(BusinessRuleViolation):
    default_message = "The lesson has not started yet."


class LessonAlreadyFinished(BusinessRuleViolation):
    default_message = "The lesson of this booking is already completed or marked no-show."


class CalendarFeedNotFound(NotFound):
    default_message = "Calendar feed not found."
