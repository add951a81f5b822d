"""Django admin for bookings: read-only rows; state changes only through the booking services.

Also the slots' "cancel" action: canceling a slot cancels its booking, which
scheduling (below booking) cannot do, so the slot admin is registered again
here with that action, calling the same `slot_cancel` service as the API.
"""

from django.contrib import admin, messages

from apps.booking.models import Booking
from apps.booking.services import booking_cancel, booking_holds_expire, slot_cancel
from apps.common.admin import NoAddDeleteAdmin
from apps.common.errors import DomainError
from apps.scheduling.admin import AvailabilitySlotAdmin
from apps.scheduling.models import AvailabilitySlot


@admin.register(Booking)
class BookingAdmin(NoAddDeleteAdmin):
    list_display = (
        "id",
        "student_email",
        "teacher_email",
        "slot_start_at",
        "status",
        "hold_expires_at",
        "confirmed_at",
        "canceled_at",
        "refund_returned",
        "created_at",
    )
    list_filter = ("status", "refund_returned")
    search_fields = ("student__email", "teacher__email", "=id")
    date_hierarchy = "created_at"
    list_select_related = ("student", "teacher", "slot")
    ordering = ("-created_at", "-id")
    readonly_fields = (
        "id",
        "slot",
        "student",
        "teacher",
        "package",
        "status",
        "hold_expires_at",
        "confirmed_at",
        "canceled_at",
        "cancellation_reason",
        "refund_returned",
        "rescheduled_from_booking",
        "created_at",
        "updated_at",
    )
    actions = ("cancel_bookings", "expire_stale_holds")

    @admin.display(description="student", ordering="student__email")
    def student_email(self, obj: Booking) -> str:
        return obj.student.email

    @admin.display(description="teacher", ordering="teacher__email")
    def teacher_email(self, obj: Booking) -> str:
        return obj.teacher.email

    @admin.display(description="slot start", ordering="slot__start_at")
    def slot_start_at(self, obj: Booking):
        return obj.slot.start_at

    @admin.action(description="Cancel selected bookings")
    def cancel_bookings(self, request, queryset):
        canceled = 0
        for booking_id in queryset.values_list("id", flat=True):
            try:
                booking_cancel(actor=request.user, booking_id=booking_id, reason="Canceled by staff in the admin site.")
                canceled += 1
            except DomainError as exc:
                self.message_user(request, f"Booking {booking_id}: {exc.message}", level=messages.ERROR)
        if canceled:
            self.message_user(request, f"Canceled {canceled} booking(s).", level=messages.SUCCESS)

    @admin.action(description="Expire stale holds (all bookings, not only the selected)")
    def expire_stale_holds(self, request, queryset):
        expired = booking_holds_expire(actor=request.user)
        self.message_user(request, f"Expired {expired} booking hold(s).", level=messages.SUCCESS)


admin.site.unregister(AvailabilitySlot)


@admin.register(AvailabilitySlot)
class SlotAdmin(AvailabilitySlotAdmin):
    actions = ("cancel_slots",)

    @admin.action(description="Cancel selected slots (and their holds or bookings, lessons refunded)")
    def cancel_slots(self, request, queryset):
        canceled = 0
        for slot_id in queryset.values_list("pk", flat=True):
            try:
                slot_cancel(actor=request.user, slot_id=slot_id, reason="Canceled by staff in the admin site.")
                canceled += 1
            except DomainError as exc:
                self.message_user(request, f"Slot {slot_id}: {exc.message}", level=messages.ERROR)
        if canceled:
            self.message_user(request, f"Canceled {canceled} slot(s).", level=messages.SUCCESS)
