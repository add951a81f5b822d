"""The audit trail in the Django admin: readable, searchable, never editable.

The OutboxEvent admin (with its requeue action) lives in apps.notifications,
whose worker owns that state machine.
"""

from django.contrib import admin

from apps.audit.models import AuditLog
from apps.common.admin import ReadOnlyAdmin


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    # An audit trail that staff could edit would prove nothing.
    list_display = ("created_at", "action", "entity_type", "entity_id", "actor")
    list_filter = ("action", "entity_type")
    search_fields = ("action", "entity_type", "=entity_id", "actor__email")
    date_hierarchy = "created_at"
    list_select_related = ("actor",)
    ordering = ("-created_at", "-id")
    readonly_fields = ("id", "actor", "action", "entity_type", "entity_id", "payload", "created_at", "updated_at")
    fields = readonly_fields
    show_full_result_count = False
