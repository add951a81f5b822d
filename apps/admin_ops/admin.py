"""Staff operations in the Django admin: a record, so read-only like the audit trail."""

from django.contrib import admin

from apps.admin_ops.models import AdminAction
from apps.common.admin import ReadOnlyAdmin


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
