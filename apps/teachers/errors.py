"""Teacher-profile errors in the school's language, mapped to the SPEC codes by their base class."""

from apps.common.errors import BusinessRuleViolation, Conflict, Forbidden, NotFound


class TeacherProfileNotFound(NotFound):
    default_message = "Teacher profile not found."


class TeacherUserNotFound(NotFound):
    default_message = "User not found."


class UserIsNotTeacher(BusinessRuleViolation):
    default_message = "A teacher profile can only belong to a user with role teacher."


class TeacherProfileExists(Conflict):
    default_message = "This user already has a teacher profile."


class TeacherProfileForbidden(Forbidden):
    default_message = "Only an admin or the teacher themself may do this."


class ApprovalForbidden(Forbidden):
    default_message = "Only an admin may change is_approved."
