from django.conf import settings
from django.db import models

from apps.common.models import TimeStampedModel


class SlotStatus(models.TextChoices):
    OPEN = "open"
    HOLD = "hold"
    BOOKED = "booked"
    CANCELED = "canceled"


class AvailabilitySlot(TimeStampedModel):
    """A teacher's bookable time window.

    On PostgreSQL an exclusion constraint (migration 0002) forbids overlapping
    non-canceled slots of one teacher; the service checks the same rule so
    SQLite users get the same 409.
    """

    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="slots")
    created_by_admin = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    start_at = models.DateTimeField()
    end_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=SlotStatus.choices, default=SlotStatus.OPEN)

    class Meta:
        db_table = "availability_slots"
        ordering = ["start_at", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(end_at__gt=models.F("start_at")), name="slots_end_after_start"),
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "hold", "booked", "canceled"]), name="slots_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["start_at", "id"], name="slots_open_idx", condition=models.Q(status="open")),
            models.Index(fields=["teacher", "start_at"], name="slots_teacher_start_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.teacher_id} {self.start_at:%Y-%m-%d %H:%M} [{self.status}]"
