from django.contrib import admin

from apps.common.admin import NoAddDeleteAdmin, teacher_name
from apps.scheduling.models import AvailabilitySlot


@admin.register(AvailabilitySlot)
class AvailabilitySlotAdmin(NoAddDeleteAdmin):
    """Slots are created through the API (overlap rule, audit); status moves only through booking.

    Registered again by `apps/booking/admin.py` with the "cancel slots" action:
    canceling a slot cancels its booking, which this app cannot see.
    """

    list_display = ("teacher_column", "status", "start_at", "end_at", "created_at")
    list_filter = ("status", ("teacher", admin.RelatedOnlyFieldListFilter))
    search_fields = ("teacher__email", "teacher__teacher_profile__display_name", "=id")
    date_hierarchy = "start_at"
    list_select_related = ("teacher__teacher_profile",)
    ordering = ("start_at",)
    fields = ("id", "teacher", "created_by_admin", "start_at", "end_at", "status", "created_at", "updated_at")
    readonly_fields = fields

    @admin.display(description="teacher", ordering="teacher__email")
    def teacher_column(self, obj: AvailabilitySlot) -> str:
        return teacher_name(obj.teacher)
