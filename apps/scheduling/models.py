from django.conf import settings
from django.db import models

from apps.common.models import TimeStampedModel
from apps.identity.models import validate_timezone
from apps.scheduling.schedule_times import MINUTES_PER_DAY, SLOT_MINUTES_DEFAULT, SLOT_MINUTES_MAX, SLOT_MINUTES_MIN


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


class WeeklySchedule(TimeStampedModel):
    """A teacher's weekly availability in their own time zone; `generate` cuts it into slots.

    One per teacher (the one-to-one column is unique). The windows live in
    their own table so the database can check each of them (weekday, bounds,
    no overlap on a weekday); the service replaces them all at once.
    """

    teacher = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="weekly_schedule")
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    slot_minutes = models.PositiveSmallIntegerField(default=SLOT_MINUTES_DEFAULT)

    class Meta:
        db_table = "weekly_schedules"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(slot_minutes__gte=SLOT_MINUTES_MIN, slot_minutes__lte=SLOT_MINUTES_MAX),
                name="weekly_schedules_slot_minutes",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.teacher_id} ({self.timezone}, {self.slot_minutes} min)"


class ScheduleWindow(TimeStampedModel):
    """One weekly window: `weekday` (0 = Monday) from `start_minute` to `end_minute` local time.

    Minutes after local midnight: a start is 0..1439 ("00:00".."23:59"), an end
    1..1440 ("24:00", the midnight that ends the day).

    On PostgreSQL an exclusion constraint (migration 0003) forbids two windows
    of one schedule overlapping on the same weekday.
    """

    schedule = models.ForeignKey(WeeklySchedule, on_delete=models.CASCADE, related_name="windows")
    weekday = models.PositiveSmallIntegerField()
    start_minute = models.PositiveSmallIntegerField()
    end_minute = models.PositiveSmallIntegerField()

    class Meta:
        db_table = "weekly_schedule_windows"
        ordering = ["weekday", "start_minute"]
        constraints = [
            models.CheckConstraint(condition=models.Q(weekday__gte=0, weekday__lte=6), name="schedule_windows_weekday"),
            models.CheckConstraint(
                condition=models.Q(
                    start_minute__gte=0, end_minute__lte=MINUTES_PER_DAY, end_minute__gt=models.F("start_minute")
                ),
                name="schedule_windows_bounds",
            ),
            models.UniqueConstraint(
                fields=["schedule", "weekday", "start_minute"], name="schedule_windows_unique_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.weekday} {self.start_minute}-{self.end_minute}"
