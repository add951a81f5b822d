from django.contrib import admin

from apps.common.admin import NoAddDeleteAdmin
from apps.scheduling.models import AvailabilitySlot


@admin.register(AvailabilitySlot)
class AvailabilitySlotAdmin(NoAddDeleteAdmin):
    """Slots are created through the API (overlap rule, audit); status moves only through booking.

    Registered again by `apps/booking/admin.py` with the "cancel slots" action:
    canceling a slot cancels its booking, which this app cannot see.
    """

    list_display = ("start_at", "end_at", "teacher", "status", "created_by_admin", "created_at")
    list_filter = ("status", ("teacher", admin.RelatedOnlyFieldListFilter))
    search_fields = ("teacher__email", "id")
    date_hierarchy = "start_at"
    list_select_related = ("teacher", "created_by_admin")
    ordering = ("start_at",)
    fields = ("id", "teacher", "created_by_admin", "start_at", "end_at", "status", "created_at", "updated_at")
    readonly_fields = fields
