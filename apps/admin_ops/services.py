"""Writes of the admin-operations area."""

from typing import Any

from django.db import transaction

from apps.admin_ops.models import AdminAction
from apps.audit.services import audit_log_record

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
