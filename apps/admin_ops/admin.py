"""Staff operations in the Django admin: the journal (read-only like the audit trail), and the users admin.

Users are registered here rather than in apps/identity: their role actions run
`user_role_change`, whose teacher guard reads bookings, slots and profiles.
"""

from django.contrib import admin

from apps.admin_ops.models import AdminAction
from apps.admin_ops.services import user_role_change
from apps.common.admin import ReadOnlyAdmin
from apps.identity.admin import UserAdmin
from apps.identity.models import Role, User


def _role_action(role: str):
    def change_role(modeladmin, request, queryset):
        modeladmin.apply_to_each(
            request,
            queryset,
            lambda user_id: user_role_change(actor=request.user, user_id=user_id, role=role),
            done=f"Changed the role of {{count}} user(s) to {role}.",
        )

    change_role.__name__ = f"make_{role}"
    return admin.action(description=f"Change role of selected users to {role}")(change_role)


@admin.register(User)
class SchoolUserAdmin(UserAdmin):
    """Users with every staff action: activate, deactivate, and change role (the API's services)."""

    actions = [*UserAdmin.actions, *(_role_action(role) for role in Role.values)]


@admin.register(AdminAction)
class AdminActionAdmin(ReadOnlyAdmin):
    # Actions are recorded through POST /api/v1/admin/actions, which also writes the audit row.
    list_display = ("created_at", "action", "target_type", "target_id", "admin")
    list_filter = ("action", "target_type")
    search_fields = ("action", "target_type", "admin__email")
    date_hierarchy = "created_at"
    list_select_related = ("admin",)
    ordering = ("-created_at", "-id")
    readonly_fields = ("id", "admin", "action", "target_type", "target_id", "payload", "created_at", "updated_at")
    fields = readonly_fields
