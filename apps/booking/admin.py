"""Django admin for bookings: read-only rows; state changes only through the booking services."""

from django.contrib import admin, messages

from apps.booking.models import Booking, BookingStatus
from apps.booking.services import booking_cancel, booking_holds_expire
from apps.common import clock
from apps.common.admin import NoAddDeleteAdmin, person, teacher_name
from apps.common.errors import DomainError


class StaleHoldFilter(admin.SimpleListFilter):
    """Holds past their deadline still in `hold`: the ops overview's `stale_booking_holds`."""

    title = "hold deadline"
    parameter_name = "hold"

    def lookups(self, request, model_admin):
        return [("stale", "Stale (past the deadline, still held)")]

    def queryset(self, request, queryset):
        if self.value() == "stale":
            return queryset.filter(status=BookingStatus.HOLD, hold_expires_at__lte=clock.now())
        return queryset


@admin.register(Booking)
class BookingAdmin(NoAddDeleteAdmin):
    list_display = (
        "student_email",
        "teacher_email",
        "status",
        "slot_start_at",
        "created_at",
    )
    list_filter = ("status", StaleHoldFilter, "refund_returned")
    search_fields = ("student__email", "teacher__email", "teacher__teacher_profile__display_name", "=id")
    date_hierarchy = "created_at"
    list_select_related = ("student", "teacher__teacher_profile", "slot")
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
        return person(obj.student)

    @admin.display(description="teacher", ordering="teacher__email")
    def teacher_email(self, obj: Booking) -> str:
        return teacher_name(obj.teacher)

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
