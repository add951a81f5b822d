"""Reads for staff: the admin-action log, the KPI / operations overviews and the teacher roster.

This is the project's one read-only reporting module: to count across the
school it reads other apps' models directly (one conditional-aggregation
query per table, never loading rows). It never writes to them.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth, TruncWeek

from apps.admin_ops.kpi_counters import counters_read, counters_supported
from apps.admin_ops.models import AdminAction
from apps.audit.models import OutboxEvent
from apps.billing.models import LessonPackage, PackageStatus, Payment, PaymentStatus
from apps.booking.models import Booking, BookingStatus
from apps.common import clock
from apps.identity.models import Role, User
from apps.lessons.models import Lesson, LessonStatus
from apps.notifications.models import Notification, NotificationStatus

# Money that reached the school: a refunded payment was received first, then paid back.
RECEIVED_PAYMENT_STATUSES = (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)

_MONEY = DecimalField(max_digits=14, decimal_places=2)
_ZERO = Value(Decimal("0.00"), output_field=_MONEY)


def _count(column: str = "status", **lookups) -> Count:
    # Count a NOT NULL column the filter already reads (status, role), not `id`: with one
    # column referenced, PostgreSQL answers from that column's index alone (an index-only
    # scan) instead of reading the wide table.
    return Count(column, filter=Q(**lookups)) if lookups else Count(column)


def _amount(**lookups) -> Coalesce:
    return Coalesce(Sum("amount", filter=Q(**lookups)), _ZERO, output_field=_MONEY)


def _now_utc() -> dt.datetime:
    return clock.now().astimezone(dt.UTC)


def admin_action_list() -> QuerySet[AdminAction]:
    """Recorded staff operations, newest first."""
    return AdminAction.objects.order_by("-created_at", "-id")


@dataclass(frozen=True)
class PeriodValue:
    """One bar of a staff chart: the period's first day (UTC) and its number."""

    start: dt.date
    value: int | Decimal


def lessons_between(*, start: dt.datetime, end: dt.datetime, limit: int) -> list[Lesson]:
    """Lessons (any status) starting in `[start, end)`, earliest first, with student, teacher and the
    teacher's profile: one query."""
    return list(
        Lesson.objects.filter(scheduled_start_at__gte=start, scheduled_start_at__lt=end)
        .select_related("student", "teacher__teacher_profile")
        .order_by("scheduled_start_at", "id")[:limit]
    )


def bookings_per_week(*, weeks: int) -> list[PeriodValue]:
    """Bookings made (any status, by `created_at`) in each of the last `weeks` weeks, this one included.

    Weeks are ISO weeks (Monday 00:00) in UTC; one aggregate query, weeks without a booking are zero.
    """
    today = _now_utc().date()
    first = today - dt.timedelta(days=today.weekday(), weeks=weeks - 1)
    starts = [first + dt.timedelta(weeks=i) for i in range(weeks)]
    rows = (
        Booking.objects.filter(created_at__gte=_utc_midnight(first), created_at__lt=_utc_midnight(starts[-1]) + _WEEK)
        .annotate(week=TruncWeek("created_at", tzinfo=dt.UTC))
        .values("week")
        .annotate(count=Count("id"))
        .order_by()
    )
    counts = {row["week"].date(): row["count"] for row in rows}
    return [PeriodValue(start=week, value=counts.get(week, 0)) for week in starts]


def money_received_per_month(*, months: int) -> list[PeriodValue]:
    """Money received in each of the last `months` calendar months (UTC), this one included.

    Money received is the KPI's: payments now `succeeded` or `refunded`, counted in the month of
    their `paid_at`, summed over currencies as stored. One aggregate query; empty months are 0.00.
    """
    today = _now_utc().date()
    starts = [_month_start(today, back=months - 1 - i) for i in range(months)]
    rows = (
        Payment.objects.filter(
            status__in=RECEIVED_PAYMENT_STATUSES,
            paid_at__gte=_utc_midnight(starts[0]),
            paid_at__lt=_utc_midnight(_month_start(today, back=-1)),
        )
        .annotate(month=TruncMonth("paid_at", tzinfo=dt.UTC))
        .values("month")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    totals = {row["month"].date(): row["total"] for row in rows}
    return [PeriodValue(start=month, value=totals.get(month, Decimal("0.00"))) for month in starts]


_WEEK = dt.timedelta(weeks=1)


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


def _month_start(day: dt.date, *, back: int) -> dt.date:
    """The first day of the month `back` months before `day`'s (negative: after)."""
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def kpi_overview() -> dict[str, Any]:
    """School-wide counts and money.

    On PostgreSQL one query over the trigger-kept counters (apps/admin_ops/kpi_counters.py):
    the same cost at 20k or 2M bookings, exact at every commit. Elsewhere (the SQLite
    try-out database) five aggregate queries count the rows.

    Counts include every row whatever its other flags (an inactive user is still a user).
    Money sums every currency together (the school bills in one currency, USD by default):
    `payments_succeeded_amount` is money received (payments now `succeeded` or `refunded`),
    `payments_refunded_amount` is money paid back (`refunded`), net is their difference.
    """
    if counters_supported():
        return {"generated_at": _now_utc(), **_kpi_from_counters(counters_read())}
    return kpi_overview_counted()


def _kpi_from_counters(counters: dict[str, Decimal]) -> dict[str, Any]:
    def count(prefix: str, value: str | None = None) -> int:
        if value is not None:
            return int(counters.get(f"{prefix}:{value}", 0))
        return int(sum(v for k, v in counters.items() if k.startswith(prefix + ":")))

    def money(*statuses: str) -> Decimal:
        return sum((counters.get(f"payments_amount:{s}", Decimal(0)) for s in statuses), Decimal(0)).quantize(
            Decimal("0.01")
        )

    received, refunded = money(*RECEIVED_PAYMENT_STATUSES), money(PaymentStatus.REFUNDED)
    return {
        "users_total": count("users"),
        "users_students": count("users", Role.STUDENT),
        "users_teachers": count("users", Role.TEACHER),
        "users_admins": count("users", Role.ADMIN),
        "bookings_total": count("bookings"),
        **{f"bookings_{s}": count("bookings", s) for s in BookingStatus.values},
        "lessons_total": count("lessons"),
        **{f"lessons_{s}": count("lessons", s) for s in LessonStatus.values},
        "payments_total": count("payments"),
        **{f"payments_{s}": count("payments", s) for s in PaymentStatus.values},
        "payments_succeeded_amount": received,
        "payments_refunded_amount": refunded,
        "payments_net_amount": received - refunded,
        "packages_total": count("packages"),
        **{f"packages_{s}": count("packages", s) for s in PackageStatus.values},
    }


def kpi_overview_counted() -> dict[str, Any]:
    """`kpi_overview` by counting rows: five aggregate queries (users, bookings, lessons, payments, packages)."""
    users = User.objects.aggregate(
        users_total=_count("role"),
        users_students=_count("role", role=Role.STUDENT),
        users_teachers=_count("role", role=Role.TEACHER),
        users_admins=_count("role", role=Role.ADMIN),
    )
    bookings = Booking.objects.aggregate(
        bookings_total=_count(),
        bookings_hold=_count(status=BookingStatus.HOLD),
        bookings_confirmed=_count(status=BookingStatus.CONFIRMED),
        bookings_canceled=_count(status=BookingStatus.CANCELED),
        bookings_expired=_count(status=BookingStatus.EXPIRED),
    )
    lessons = Lesson.objects.aggregate(
        lessons_total=_count(),
        lessons_scheduled=_count(status=LessonStatus.SCHEDULED),
        lessons_completed=_count(status=LessonStatus.COMPLETED),
        lessons_canceled=_count(status=LessonStatus.CANCELED),
        lessons_no_show=_count(status=LessonStatus.NO_SHOW),
    )
    payments = Payment.objects.aggregate(
        payments_total=_count(),
        payments_pending=_count(status=PaymentStatus.PENDING),
        payments_succeeded=_count(status=PaymentStatus.SUCCEEDED),
        payments_failed=_count(status=PaymentStatus.FAILED),
        payments_refunded=_count(status=PaymentStatus.REFUNDED),
        payments_succeeded_amount=_amount(status__in=RECEIVED_PAYMENT_STATUSES),
        payments_refunded_amount=_amount(status=PaymentStatus.REFUNDED),
    )
    payments["payments_net_amount"] = payments["payments_succeeded_amount"] - payments["payments_refunded_amount"]
    packages = LessonPackage.objects.aggregate(
        packages_total=_count(),
        packages_active=_count(status=PackageStatus.ACTIVE),
        packages_expired=_count(status=PackageStatus.EXPIRED),
        packages_canceled=_count(status=PackageStatus.CANCELED),
    )
    return {"generated_at": _now_utc(), **users, **bookings, **lessons, **payments, **packages}


def ops_overview(*, max_retries: int) -> dict[str, Any]:
    """What needs an operator's eye now; four aggregate queries (outbox, notifications, bookings, packages).

    A failed outbox event is retryable while `retries < max_retries` and dead-lettered from then on.
    Stale holds and overdue packages are the work the expiry commands have not done yet.
    """
    now = _now_utc()
    # The WHERE lets PostgreSQL use the partial pending/failed indexes instead of reading processed rows.
    outbox = OutboxEvent.objects.filter(status__in=[OutboxEvent.Status.PENDING, OutboxEvent.Status.FAILED]).aggregate(
        outbox_pending=_count(status=OutboxEvent.Status.PENDING),
        outbox_failed_retryable=_count(status=OutboxEvent.Status.FAILED, retries__lt=max_retries),
        outbox_failed_dead_letter=_count(status=OutboxEvent.Status.FAILED, retries__gte=max_retries),
    )
    return {
        "generated_at": now,
        "max_retries": max_retries,
        **outbox,
        "notifications_failed": Notification.objects.filter(status=NotificationStatus.FAILED).count(),
        # Both counts read the partial indexes on (status='hold', hold_expires_at) / (status='active', expires_at).
        "stale_booking_holds": Booking.objects.filter(status=BookingStatus.HOLD, hold_expires_at__lte=now).count(),
        "overdue_active_packages": LessonPackage.objects.filter(
            status=PackageStatus.ACTIVE, expires_at__lt=now
        ).count(),
    }


def _money_sum(condition: Q) -> Coalesce:
    return Coalesce(Sum("amount", filter=condition), _ZERO, output_field=_MONEY)


def kpi_sales(*, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Sales over `[start, end)`: two aggregate queries (payments, packages) whatever the range.

    - received (`payments_succeeded_*`): `paid_at` in range, payment now `succeeded` or
      `refunded` (a refund does not undo the receipt; it is counted when it happens);
    - refunded (`payments_refunded_*`): `refunded_at` in range;
    - net: received minus refunded in the same range;
    - `packages_created`: `created_at` in range; `packages_created_paid`: of those, the ones
      with a payment received in the range too (so a closed period's figures never change);
    - the conversion rate is paid / created rounded half-up to 2 places, "0.00" with no packages.

    Amounts add every currency together, as the overview does.
    """
    received = Q(status__in=RECEIVED_PAYMENT_STATUSES, paid_at__gte=start, paid_at__lt=end)
    refunded = Q(status=PaymentStatus.REFUNDED, refunded_at__gte=start, refunded_at__lt=end)
    # The WHERE lets PostgreSQL read the partial paid_at / refunded_at indexes instead of the table.
    payments = Payment.objects.filter(received | refunded).aggregate(
        payments_succeeded_count=Count("id", filter=received),
        payments_succeeded_amount=_money_sum(received),
        payments_refunded_count=Count("id", filter=refunded),
        payments_refunded_amount=_money_sum(refunded),
    )
    # `id IN (subquery)`, not a correlated EXISTS: PostgreSQL runs it once as a hashed subplan
    # (one range scan of payments) instead of once per package.
    paid_in_range = Payment.objects.filter(received).values("package_id")
    packages = LessonPackage.objects.filter(created_at__gte=start, created_at__lt=end).aggregate(
        packages_created=Count("id"),
        packages_created_paid=Count("id", filter=Q(pk__in=paid_in_range)),
    )
    created, created_paid = packages["packages_created"], packages["packages_created_paid"]
    rate = Decimal(created_paid) / Decimal(created) if created else Decimal(0)
    return {
        "generated_at": _now_utc(),
        "from": start,
        "to": end,
        **payments,
        "payments_net_amount": payments["payments_succeeded_amount"] - payments["payments_refunded_amount"],
        **packages,
        "packages_paid_conversion_rate": rate.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
    }


def _lesson_count(**lookups) -> Coalesce:
    """A correlated COUNT of the row's teacher's lessons matching `lookups` (0 when none).

    PostgreSQL evaluates it only for the rows of the page (after ORDER BY ... LIMIT),
    each one an index range scan on `lessons_teacher_idx`.
    """
    lessons = (
        Lesson.objects.filter(teacher_id=OuterRef("pk"), **lookups)
        .order_by()
        .values("teacher_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(lessons, output_field=IntegerField()), Value(0))


def admin_teacher_list(*, is_approved: bool | None = None, q: str | None = None) -> QuerySet[User]:
    """Every user whose role is teacher, with their profile (if any) and lesson counts, newest first.

    One row per teacher user: a teacher without a profile has `profile_id` and
    `display_name` null and counts as not approved. `upcoming_lessons` are
    scheduled lessons that have not started; `completed_lessons` those marked
    completed. `created_at` is the user's (the row is the teacher, the profile
    may come later). `q` matches email, full name or display name,
    case-insensitively. One query per page (plus the page's COUNT when needed).
    """
    now = _now_utc()
    queryset = User.objects.filter(role=Role.TEACHER).annotate(
        profile_id=F("teacher_profile__id"),
        display_name=F("teacher_profile__display_name"),
        is_approved=Coalesce(F("teacher_profile__is_approved"), Value(False)),
        upcoming_lessons=_lesson_count(status=LessonStatus.SCHEDULED, scheduled_start_at__gt=now),
        completed_lessons=_lesson_count(status=LessonStatus.COMPLETED),
    )
    if is_approved is not None:
        queryset = queryset.filter(is_approved=is_approved)
    if q:
        queryset = queryset.filter(
            Q(email__icontains=q) | Q(full_name__icontains=q) | Q(teacher_profile__display_name__icontains=q)
        )
    return queryset.order_by("-created_at", "-id")
