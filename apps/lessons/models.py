from django.conf import settings
from django.db import models
from django.db.models import F, Q

from apps.common.models import TimeStampedModel


class LessonStatus(models.TextChoices):
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELED = "canceled"
    NO_SHOW = "no_show"


class Lesson(TimeStampedModel):
    """The lesson a confirmed booking gives; at most one per booking."""

    booking = models.OneToOneField("booking.Booking", on_delete=models.PROTECT, related_name="lesson")
    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="student_lessons")
    teacher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="teacher_lessons")
    scheduled_start_at = models.DateTimeField()
    scheduled_end_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=LessonStatus.choices, default=LessonStatus.SCHEDULED)
    topic = models.CharField(max_length=255, null=True, blank=True)
    notes = models.TextField(null=True, blank=True)
    homework = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "lessons"
        ordering = ["-scheduled_start_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scheduled_end_at__gt=F("scheduled_start_at")), name="lessons_end_after_start"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["scheduled", "completed", "canceled", "no_show"]), name="lessons_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["student", "-scheduled_start_at"], name="lessons_student_idx"),
            models.Index(fields=["teacher", "-scheduled_start_at"], name="lessons_teacher_idx"),
            # KPI counts by status (index-only scan)
            models.Index(fields=["status"], name="lessons_status_idx"),
        ]

    def __str__(self) -> str:
        return f"lesson {self.id} [{self.status}]"
