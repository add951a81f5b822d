"""Admin-operations' domain errors (SPEC §8)."""

from apps.common.errors import BusinessRuleViolation


class TeacherStillTeaching(BusinessRuleViolation):
    """A teacher students can still see or book cannot lose the role; `details` says what is left."""

    default_message = (
        "This teacher still has upcoming bookings, holds, open slots or an approved profile; disable them first."
    )
