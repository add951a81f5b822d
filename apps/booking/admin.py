"""Django admin for bookings: read-only rows; state changes only through the booking services.

Also the staff actions whose work cancels bookings, on other apps' pages:
canceling a slot, a package or a teacher cancels their bookings, which
scheduling, billing and teachers (below booking) cannot do. Their admin
classes are registered again here, extended with those actions, which call
the same services as the API (`slot_cancel`, `package_cancel`, `teacher_disable`).
"""

from django.contrib import admin, messages

from apps.billing.admin import LessonPackageAdmin
from apps.billing.models import LessonPackage
from apps.booking.models import Booking, BookingStatus
from apps.booking.services import booking_cancel, booking_holds_expire, package_cancel, slot_cancel, teacher_disable
from apps.common import clock
from apps.common.admin import NoAddDeleteAdmin, person, teacher_name
from apps.common.errors import DomainError
from apps.scheduling.admin import AvailabilitySlotAdmin
from apps.scheduling.models import AvailabilitySlot
from apps.teachers.admin import TeacherProfileAdmin
from apps.teachers.models import TeacherProfile

STAFF_REASON = "Canceled by staff in the admin site."


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
                booking_cancel(actor=request.user, booking_id=booking_id, reason=STAFF_REASON)
                canceled += 1
            except DomainError as exc:
                self.message_user(request, f"Booking {booking_id}: {exc.message}", level=messages.ERROR)
        if canceled:
            self.message_user(request, f"Canceled {canceled} booking(s).", level=messages.SUCCESS)

    @admin.action(description="Expire stale holds (all bookings, not only the selected)")
    def expire_stale_holds(self, request, queryset):
        expired = booking_holds_expire(actor=request.user)
        self.message_user(request, f"Expired {expired} booking hold(s).", level=messages.SUCCESS)


def _run_each(modeladmin, request, ids, operation, done_message: str) -> None:
    """Run `operation(id)` for each selected row; report refusals one by one and the count of the rest."""
    done = 0
    for pk in ids:
        try:
            operation(pk)
            done += 1
        except DomainError as exc:
            modeladmin.message_user(request, f"{pk}: {exc.message}", level=messages.ERROR)
    if done:
        modeladmin.message_user(request, done_message.format(done), level=messages.SUCCESS)


admin.site.unregister(AvailabilitySlot)


@admin.register(AvailabilitySlot)
class SlotAdmin(AvailabilitySlotAdmin):
    actions = ("cancel_slots",)

    @admin.action(description="Cancel selected slots (and their holds or bookings, lessons refunded)")
    def cancel_slots(self, request, queryset):
        _run_each(
            self,
            request,
            queryset.values_list("pk", flat=True),
            lambda pk: slot_cancel(actor=request.user, slot_id=pk, reason=STAFF_REASON),
            "Canceled {} slot(s).",
        )


admin.site.unregister(LessonPackage)


@admin.register(LessonPackage)
class PackageAdmin(LessonPackageAdmin):
    actions = [*LessonPackageAdmin.actions, "cancel_packages", "force_cancel_packages"]

    @admin.action(description="Cancel selected packages and their holds (refused with upcoming bookings)")
    def cancel_packages(self, request, queryset):
        self._cancel(request, queryset, force=False)

    @admin.action(description="Cancel selected packages with their holds and upcoming bookings (lessons refunded)")
    def force_cancel_packages(self, request, queryset):
        self._cancel(request, queryset, force=True)

    def _cancel(self, request, queryset, *, force: bool) -> None:
        _run_each(
            self,
            request,
            queryset.values_list("pk", flat=True),
            lambda pk: package_cancel(actor=request.user, package_id=pk, reason=STAFF_REASON, force=force),
            "Canceled {} package(s).",
        )


admin.site.unregister(TeacherProfile)


@admin.register(TeacherProfile)
class TeacherAdmin(TeacherProfileAdmin):
    actions = (*TeacherProfileAdmin.actions, "disable_teachers")

    @admin.action(description="Disable selected teachers (unapprove; cancel future bookings, refunded, and slots)")
    def disable_teachers(self, request, queryset):
        _run_each(
            self,
            request,
            queryset.values_list("user_id", flat=True),
            lambda pk: teacher_disable(
                actor=request.user, teacher_id=pk, reason="Disabled by staff in the admin site."
            ),
            "Disabled {} teacher(s).",
        )
