from django.conf import settings
from django.db import models
from django.db.models import F, Q

from apps.common.models import TimeStampedModel


class PackageStatus(models.TextChoices):
    ACTIVE = "active"
    EXPIRED = "expired"
    CANCELED = "canceled"


class PaymentStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


class LessonPackage(TimeStampedModel):
    """Lessons a student bought. `lessons_reserved` counts lessons held by open holds."""

    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="packages")
    lessons_total = models.PositiveIntegerField()
    lessons_left = models.PositiveIntegerField()
    lessons_reserved = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=PackageStatus.choices, default=PackageStatus.ACTIVE)

    class Meta:
        db_table = "lesson_packages"
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(lessons_total__gte=1), name="packages_total_positive"),
            models.CheckConstraint(
                condition=Q(lessons_reserved__gte=0)
                & Q(lessons_reserved__lte=F("lessons_left"))
                & Q(lessons_left__lte=F("lessons_total")),
                name="packages_counters_consistent",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["active", "expired", "canceled"]), name="packages_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["student", "-created_at"], name="packages_student_idx"),
            models.Index(fields=["expires_at"], name="packages_active_expiry_idx", condition=Q(status="active")),
            models.Index(fields=["status"], name="packages_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.student_id}: {self.lessons_left}/{self.lessons_total} [{self.status}]"


class Payment(TimeStampedModel):
    """Money received (or expected) for a package; its status is a state machine."""

    package = models.ForeignKey(LessonPackage, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    status = models.CharField(max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    external_reference = models.CharField(max_length=255, null=True, blank=True, unique=True)
    paid_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "payments"
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "succeeded", "failed", "refunded"]), name="payments_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["package", "-created_at"], name="payments_package_idx"),
            models.Index(fields=["-created_at"], name="payments_created_idx"),
            # KPI counts and money sums by status (index-only scan)
            models.Index(fields=["status", "amount"], name="payments_status_amount_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} [{self.status}]"
