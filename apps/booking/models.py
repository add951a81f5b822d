from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.common.models import TimeStampedModel


class BookingStatus(models.TextChoices):
    HOLD = "hold"
    CONFIRMED = "confirmed"
    CANCELED = "canceled"
    EXPIRED = "expired"


ACTIVE_BOOKING_STATUSES = (BookingStatus.HOLD, BookingStatus.CONFIRMED)


class Booking(TimeStampedModel):
    """A student's claim on a slot, paid from a package. See services for the state machine."""

    slot = models.ForeignKey("scheduling.AvailabilitySlot", on_delete=models.PROTECT, related_name="bookings")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="student_bookings")
    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="teacher_bookings")
    package = models.ForeignKey("billing.LessonPackage", on_delete=models.PROTECT, related_name="bookings")
    status = models.CharField(max_length=16, choices=BookingStatus.choices, default=BookingStatus.HOLD)
    hold_expires_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    canceled_at = models.DateTimeField(null=True, blank=True)
    cancellation_reason = models.TextField(null=True, blank=True)
    refund_returned = models.BooleanField(default=False)
    # One successor per booking: asking to reschedule twice returns the same one.
    rescheduled_from_booking = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="rescheduled_to"
    )

    class Meta:
        db_table = "bookings"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["slot"], condition=Q(status__in=["hold", "confirmed"]), name="bookings_one_active_per_slot"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["hold", "confirmed", "canceled", "expired"]), name="bookings_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["student", "-created_at"], name="bookings_student_idx"),
            models.Index(fields=["teacher", "-created_at"], name="bookings_teacher_idx"),
            models.Index(fields=["-created_at"], name="bookings_created_idx"),
            # KPI counts by status read this index alone (index-only scan), not the wide table.
            models.Index(fields=["status"], name="bookings_status_idx"),
            models.Index(fields=["hold_expires_at"], name="bookings_stale_hold_idx", condition=Q(status="hold")),
        ]

    def __str__(self) -> str:
        return f"booking {self.id} [{self.status}]"
