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


class Plan(TimeStampedModel):
    """An offer in the catalog: so many lessons for a price, valid so many days from purchase.

    A package sold from a plan copies its lessons, expiry and price at that moment;
    changing the plan later never changes packages already sold.
    """

    name = models.CharField(max_length=128)
    lessons_total = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="USD")
    validity_days = models.PositiveIntegerField()
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "plans"
        ordering = ["price", "name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(lessons_total__gte=1), name="plans_lessons_total_positive"),
            models.CheckConstraint(condition=Q(price__gt=0), name="plans_price_positive"),
            models.CheckConstraint(condition=Q(validity_days__gte=1), name="plans_validity_days_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.lessons_total} lessons, {self.price} {self.currency}, {self.validity_days} days"


class LessonPackage(TimeStampedModel):
    """Lessons a student bought. `lessons_reserved` counts lessons held by open holds."""

    student = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="packages")
    lessons_total = models.PositiveIntegerField()
    lessons_left = models.PositiveIntegerField()
    lessons_reserved = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=PackageStatus.choices, default=PackageStatus.ACTIVE)
    # Sold from a plan: which one, and its price at that moment (both null for a hand-made package).
    plan = models.ForeignKey(Plan, null=True, blank=True, on_delete=models.PROTECT, related_name="packages")
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

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
            models.CheckConstraint(
                # `price > 0` alone would let a NULL price through (a CHECK passes on NULL).
                condition=Q(plan__isnull=True, price__isnull=True)
                | Q(plan__isnull=False, price__isnull=False, price__gt=0),
                name="packages_price_from_plan",
            ),
        ]
        indexes = [
            models.Index(fields=["student", "-created_at"], name="packages_student_idx"),
            models.Index(fields=["expires_at"], name="packages_active_expiry_idx", condition=Q(status="active")),
            models.Index(fields=["status"], name="packages_status_idx"),
            # Sales KPI: packages created in a period.
            models.Index(fields=["created_at"], name="packages_created_idx"),
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
    # Set once, when the payment becomes `refunded` (final): the day the money went back.
    refunded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "payments"
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_amount_positive"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "succeeded", "failed", "refunded"]), name="payments_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="refunded", refunded_at__isnull=False)
                | (~Q(status="refunded") & Q(refunded_at__isnull=True)),
                name="payments_refunded_at_iff_refunded",
            ),
        ]
        indexes = [
            models.Index(fields=["package", "-created_at"], name="payments_package_idx"),
            models.Index(fields=["-created_at"], name="payments_created_idx"),
            # KPI counts and money sums by status (index-only scan)
            models.Index(fields=["status", "amount"], name="payments_status_amount_idx"),
            # Sales KPI over a period: money received by paid_at, paid back by refunded_at
            # (status and amount ride along, so the sums can read the index alone).
            models.Index(
                fields=["paid_at", "status", "amount"],
                condition=Q(paid_at__isnull=False),
                name="payments_paid_at_idx",
            ),
            models.Index(
                fields=["refunded_at", "amount"],
                condition=Q(refunded_at__isnull=False),
                name="payments_refunded_at_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} [{self.status}]"
