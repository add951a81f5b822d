"""Writes of the admin-operations area, and staff operations that need more than one app."""

from typing import Any

from django.db import transaction

from apps.admin_ops.errors import TeacherStillTeaching
from apps.admin_ops.models import AdminAction
from apps.audit.services import audit_log_record
from apps.booking.selectors import teacher_upcoming_booking_counts
from apps.common.locking import set_lock_timeout
from apps.identity.errors import UserNotFound
from apps.identity.models import Role, User
from apps.identity.services import user_lock, user_role_set
from apps.scheduling.selectors import teacher_open_slot_count
from apps.teachers.selectors import teacher_profile_is_approved

AUDIT_ACTION_CREATE = "admin_ops.action.create"


def admin_action_create(
    *, admin, action: str, target_type: str, target_id=None, payload: dict[str, Any] | None = None
) -> AdminAction:
    """Record a staff operation and its audit entry in one transaction (both or neither)."""
    with transaction.atomic():
        admin_action = AdminAction.objects.create(
            admin=admin, action=action, target_type=target_type, target_id=target_id, payload=payload or {}
        )
        audit_log_record(
            actor=admin,
            action=AUDIT_ACTION_CREATE,
            entity_type="admin_action",
            entity_id=admin_action.id,
            payload={
                "action": action,
                "target_type": target_type,
                "target_id": str(target_id) if target_id else None,
                "payload": admin_action.payload,
            },
        )
    return admin_action


def _teacher_still_teaching(*, teacher_id) -> dict[str, Any] | None:
    """What a teacher still has that students can see or book, or None when they are wound down."""
    bookings = teacher_upcoming_booking_counts(teacher_id=teacher_id)
    left = {
        "upcoming_confirmed_bookings": bookings["confirmed"],
        "holds": bookings["hold"],
        "open_slots": teacher_open_slot_count(teacher_id=teacher_id),
        "profile_approved": teacher_profile_is_approved(user_id=teacher_id),
    }
    return left if any(left.values()) else None


def user_role_change(*, actor: User, user_id, role: str) -> User:
    """Give a user another role (`POST /admin/users/{id}/role`, and the Django admin's role actions).

    Unknown user 404; your own role 422; the same role 200 with nothing written.
    A teacher loses the role only once wound down (422 "disable them first"
    otherwise, `details` naming what is left): no confirmed booking or hold
    on a slot that has not ended (a stale hold too: its expiry would reopen the
    slot), no open future slot, no approved profile. `POST /admin/teachers/{id}/disable` does exactly that winding down.

    Race-free: the user's row is locked first (FOR NO KEY UPDATE). Every way to
    give a teacher something new to teach starts from what the check counts (a
    hold needs an open slot, a confirm needs a hold) except creating a slot,
    and slot creation takes the same row lock and re-reads the role under it.
    So a hold or confirm racing this change is either seen here (422) or finds
    nothing to act on; a slot created at the same moment either is seen (422)
    or is refused because its teacher is no longer a teacher.
    """
    with transaction.atomic():
        set_lock_timeout()
        user = user_lock(user_id=user_id)
        if user is None:
            raise UserNotFound()
        if user.role == Role.TEACHER and role != Role.TEACHER:
            left = _teacher_still_teaching(teacher_id=user.pk)
            if left is not None:
                raise TeacherStillTeaching(details=left)
        return user_role_set(actor=actor, user=user, role=role)
