"""Writes on teacher profiles. Each write and its audit row commit in one transaction."""

from typing import Any

from django.db import IntegrityError, transaction

from apps.audit.services import audit_log_record
from apps.common.locking import lock_one, set_lock_timeout
from apps.common.queries import one_or_none
from apps.identity.models import Role
from apps.identity.services import user_lock
from apps.teachers.errors import (
    ApprovalForbidden,
    TeacherProfileExists,
    TeacherProfileForbidden,
    TeacherProfileNotFound,
    TeacherUserNotFound,
    UserIsNotTeacher,
)
from apps.teachers.models import TeacherProfile
from apps.teachers.selectors import teacher_profile_visible_to

# fields a PATCH may change; `user` is fixed at creation
UPDATABLE_FIELDS = ("display_name", "bio", "experience_years", "is_approved")


def teacher_profile_create(
    *, actor, user_id, display_name: str, bio: str = "", experience_years: int = 0
) -> TeacherProfile:
    """Create the one profile of a teacher; new profiles wait for an admin's approval.

    An admin may create it for any teacher, a teacher only for themself (403
    otherwise, checked before anything is looked up). Unknown user: 404; a
    user whose role is not teacher: 422; a second profile: 409.
    """
    if not actor.is_admin and not (actor.is_teacher and str(actor.pk) == str(user_id)):
        raise TeacherProfileForbidden("A teacher may only create their own profile.")
    with transaction.atomic():
        set_lock_timeout()
        # the user's row lock serializes two creates for one user; the unique
        # constraint on user_id is the last word either way
        user = user_lock(user_id=user_id)
        if user is None:
            raise TeacherUserNotFound()
        if user.role != Role.TEACHER:
            raise UserIsNotTeacher()
        if TeacherProfile.objects.filter(user_id=user.pk).exists():
            raise TeacherProfileExists()
        try:
            with transaction.atomic():
                profile = TeacherProfile.objects.create(
                    user=user, display_name=display_name, bio=bio, experience_years=experience_years
                )
        except IntegrityError:
            raise TeacherProfileExists() from None
        audit_log_record(
            actor=actor,
            action="teachers.profile.create",
            entity_type="teacher_profile",
            entity_id=profile.pk,
            payload={
                "user_id": str(user.pk),
                "display_name": display_name,
                "bio": bio,
                "experience_years": experience_years,
                "is_approved": profile.is_approved,
            },
        )
    return profile


def teacher_profile_update(*, actor, profile_id, data: dict[str, Any]) -> TeacherProfile:
    """Change a profile's fields; only the fields whose values differ are written and audited.

    Admin or the owning teacher (403 otherwise; 404 when the caller may not
    even see the profile). Only an admin may change `is_approved`: a non-admin
    sending a different value gets 403, sending the current value is a no-op.
    Keys other than UPDATABLE_FIELDS are ignored.
    """
    with transaction.atomic():
        set_lock_timeout()
        profile = lock_one(TeacherProfile.objects.all(), profile_id)
        if profile is None or not teacher_profile_visible_to(profile=profile, viewer=actor):
            raise TeacherProfileNotFound()
        if not actor.is_admin and profile.user_id != actor.pk:
            raise TeacherProfileForbidden()
        changes = {
            field: value
            for field, value in data.items()
            if field in UPDATABLE_FIELDS and getattr(profile, field) != value
        }
        if "is_approved" in changes and not actor.is_admin:
            raise ApprovalForbidden()
        if not changes:
            return profile
        before = {field: getattr(profile, field) for field in changes}
        for field, value in changes.items():
            setattr(profile, field, value)
        profile.save(update_fields=[*changes, "updated_at"])
        audit_log_record(
            actor=actor,
            action="teachers.profile.update",
            entity_type="teacher_profile",
            entity_id=profile.pk,
            payload={"changed": changes, "previous": before},
        )
    return profile


def teacher_profile_lock_for_user(*, user_id) -> TeacherProfile | None:
    """Lock the teacher's profile row (None when the teacher has none).

    Lock order: the teacher's user row (`user_lock`) first, then this, then
    their slots (see booking's `teacher_disable`).
    """
    return one_or_none(TeacherProfile.objects.select_for_update().filter(user_id=user_id))


def teacher_profile_unapprove_locked(*, actor, profile: TeacherProfile, reason: str | None = None) -> bool:
    """Take a locked profile off the public list; audit `teachers.profile.update`. False if it was not approved."""
    if not profile.is_approved:
        return False
    profile.is_approved = False
    profile.save(update_fields=["is_approved", "updated_at"])
    audit_log_record(
        actor=actor,
        action="teachers.profile.update",
        entity_type="teacher_profile",
        entity_id=profile.pk,
        payload={"changed": {"is_approved": False}, "previous": {"is_approved": True}, "reason": reason},
    )
    return True
