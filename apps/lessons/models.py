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
    # The iCalendar SEQUENCE of the lesson's VEVENT: every service that changes the lesson raises it.
    sequence = models.PositiveIntegerField(default=0)

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
            # send_lesson_reminders: scheduled lessons starting soon
            models.Index(
                fields=["scheduled_start_at"], name="lessons_scheduled_start_idx", condition=Q(status="scheduled")
            ),
        ]

    def __str__(self) -> str:
        return f"lesson {self.id} [{self.status}]"


class LessonReminder(TimeStampedModel):
    """The one reminder a lesson gets (SPEC §8.5 `send_lesson_reminders`).

    The unique `lesson_id` is what makes it one, whatever runs at once: the
    command inserts this row and the `lesson.reminder` outbox event in one
    transaction, and a row that already exists means no new event. It lives
    apart from `outbox_events` so pruning processed events can never let a
    lesson be reminded twice.
    """

    lesson = models.OneToOneField(Lesson, on_delete=models.PROTECT, related_name="reminder")

    class Meta:
        db_table = "lesson_reminders"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"reminder of lesson {self.lesson_id}"


class CalendarFeed(TimeStampedModel):
    """A user's secret calendar URL (SPEC §8.5): `/api/v1/calendar/<token>.ics`.

    The token is the only credential of the feed, so it is a random secret of
    256 bits (`secrets.token_urlsafe(32)`), one per user, unique; rotating it
    replaces it and the old URL stops answering. It is kept as is (not hashed)
    because `GET /calendar/feed` shows the same URL again, as calendar
    providers do for their "secret address".
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_feed")
    token = models.CharField(max_length=64, unique=True)

    class Meta:
        db_table = "calendar_feeds"

    def __str__(self) -> str:
        return f"calendar feed of {self.user_id}"
