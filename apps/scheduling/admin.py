from django.contrib import admin, messages

from apps.common.admin import NoAddDeleteAdmin, teacher_name
from apps.common.errors import DomainError
from apps.scheduling.models import AvailabilitySlot
from apps.scheduling.services import slot_cancel


@admin.register(AvailabilitySlot)
class AvailabilitySlotAdmin(NoAddDeleteAdmin):
    """Slots are created through the API (overlap rule, audit); status moves only through booking."""

    list_display = ("teacher_column", "status", "start_at", "end_at", "created_at")
    list_filter = ("status", ("teacher", admin.RelatedOnlyFieldListFilter))
    search_fields = ("teacher__email", "teacher__teacher_profile__display_name", "=id")
    date_hierarchy = "start_at"
    list_select_related = ("teacher__teacher_profile",)
    ordering = ("start_at",)
    fields = ("id", "teacher", "created_by_admin", "start_at", "end_at", "status", "created_at", "updated_at")
    readonly_fields = fields
    actions = ("cancel_open_slots",)

    @admin.display(description="teacher", ordering="teacher__email")
    def teacher_column(self, obj: AvailabilitySlot) -> str:
        return teacher_name(obj.teacher)

    @admin.action(description="Cancel selected open slots")
    def cancel_open_slots(self, request, queryset):
        done = 0
        for slot_id in queryset.values_list("pk", flat=True):
            try:
                slot_cancel(actor=request.user, slot_id=slot_id)
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{slot_id}: {exc.message}", level=messages.ERROR)
        self.message_user(request, f"{done} slot(s) canceled.")
