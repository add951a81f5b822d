"""The staff dashboard: the Django admin's index page (`guitaronline.admin.StaffAdminSite`).

It shows what needs an operator now (the ops overview, each count with its filtered
list and the fix), today's and tomorrow's lessons in the staff member's time zone,
and two small charts. The numbers come from `apps.admin_ops.selectors` (the same
ops overview the API serves); each fix is a small POST form calling the same
service as the admin action, the cron command and the API, with the staff member
as the actor (so the audit trail names them).
"""

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from apps.admin_ops import selectors
from apps.billing.services import packages_expire_due
from apps.booking.services import booking_holds_expire
from apps.common import clock
from apps.common.admin import person, teacher_name
from apps.lessons.models import Lesson
from apps.notifications.services import outbox_events_requeue

CHART_WEEKS = 12
CHART_MONTHS = 12
LESSONS_SHOWN = 100  # per dashboard; a busier school follows the link to the lessons list


@dataclass(frozen=True)
class Figure:
    """A secondary count on an ops card, with the list that shows its rows."""

    label: str
    count: int
    url: str


@dataclass(frozen=True)
class OpsCard:
    """One thing that may need an operator: how many, where they are, what fixes it."""

    key: str
    title: str
    count: int
    what: str
    list_url: str
    fix_url: str | None = None  # a POST form on the dashboard; None: the fix is in the list
    fix_label: str = ""
    fix_hint: str = ""
    figures: list[Figure] = field(default_factory=list)


@dataclass(frozen=True)
class LessonRow:
    lesson: Lesson
    starts_local: dt.datetime
    student: str
    teacher: str
    lesson_url: str
    booking_url: str


@dataclass(frozen=True)
class LessonDay:
    label: str
    day: dt.date
    lessons: list[LessonRow]
    list_url: str
    cut_short: bool  # more lessons than the dashboard shows: the list has them all


def staff_timezone(user) -> zoneinfo.ZoneInfo:
    """The staff member's IANA time zone (User.timezone), UTC when unset or unknown."""
    try:
        return zoneinfo.ZoneInfo(getattr(user, "timezone", "") or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def can_use_dashboard(user) -> bool:
    """The dashboard and its fixes are for the school's admins (role admin), as the ops API is.

    The admin site lets in any active staff user; a staff user of another role gets Django's index.
    """
    return bool(getattr(user, "is_admin", False))


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """Everything the dashboard template shows; a fixed number of queries whatever the school's size."""
    tz = staff_timezone(request.user)
    return {
        "ops_cards": ops_cards(),
        "lesson_days": lesson_days(tz=tz),
        "staff_timezone": str(tz),
        "bookings_per_week": selectors.bookings_per_week(weeks=CHART_WEEKS),
        "money_per_month": selectors.money_received_per_month(months=CHART_MONTHS),
    }


def ops_cards() -> list[OpsCard]:
    """The ops overview (SPEC §3 `GET /admin/ops/overview`) as cards, with the runbook's fix for each."""
    max_retries = settings.OUTBOX_WORKER_MAX_RETRIES
    overview = selectors.ops_overview(max_retries=max_retries)
    bookings = reverse("admin:booking_booking_changelist")
    outbox = reverse("admin:audit_outboxevent_changelist")
    notifications = reverse("admin:notifications_notification_changelist")
    packages = reverse("admin:billing_lessonpackage_changelist")
    return [
        OpsCard(
            key="stale-holds",
            title="Stale holds",
            count=overview["stale_booking_holds"],
            what="Holds past their deadline, still blocking a slot and a lesson of a package. "
            "The expiry cron is behind or not running.",
            list_url=f"{bookings}?hold=stale",
            fix_url=reverse("admin:dashboard_expire_holds"),
            fix_label="Expire stale holds",
        ),
        OpsCard(
            key="dead-letters",
            title="Outbox dead letters",
            count=overview["outbox_failed_dead_letter"],
            what=f"Events that failed {max_retries} times; the worker no longer retries them. "
            "Read their error, fix the cause, then requeue.",
            list_url=f"{outbox}?retry=dead_letter",
            fix_url=reverse("admin:dashboard_requeue_dead_letters"),
            fix_label="Requeue dead letters",
            figures=[
                Figure("pending", overview["outbox_pending"], f"{outbox}?status__exact=pending"),
                Figure("retrying", overview["outbox_failed_retryable"], f"{outbox}?retry=retrying"),
            ],
        ),
        OpsCard(
            key="failed-notifications",
            title="Failed notifications",
            count=overview["notifications_failed"],
            what="Messages the channel (e-mail) refused. Fix delivery (SMTP settings) first.",
            list_url=f"{notifications}?status__exact=failed",
            fix_hint="In the list, select them and run “Deliver selected again”.",
        ),
        OpsCard(
            key="overdue-packages",
            title="Overdue packages",
            count=overview["overdue_active_packages"],
            what="Active packages past their expiry date. The expiry cron is behind or not running.",
            list_url=f"{packages}?expiry=overdue",
            fix_url=reverse("admin:dashboard_expire_packages"),
            fix_label="Expire overdue packages",
        ),
    ]


def lesson_days(*, tz: zoneinfo.ZoneInfo) -> list[LessonDay]:
    """Today's and tomorrow's lessons (any status) in `tz`, one query for both days."""
    today = clock.now().astimezone(tz).date()
    days = [today, today + dt.timedelta(days=1)]
    midnights = [dt.datetime.combine(day, dt.time.min, tzinfo=tz) for day in [*days, today + dt.timedelta(days=2)]]
    lessons = selectors.lessons_between(start=midnights[0], end=midnights[2], limit=LESSONS_SHOWN + 1)
    # From the day of the first lesson left out, the dashboard cannot tell the whole day.
    first_left_out = (
        lessons[LESSONS_SHOWN].scheduled_start_at.astimezone(tz).date() if len(lessons) > LESSONS_SHOWN else None
    )
    lessons = lessons[:LESSONS_SHOWN]
    lessons_list = reverse("admin:lessons_lesson_changelist")
    by_day: dict[dt.date, list[LessonRow]] = {day: [] for day in days}
    for lesson in lessons:
        starts_local = lesson.scheduled_start_at.astimezone(tz)
        by_day[starts_local.date()].append(
            LessonRow(
                lesson=lesson,
                starts_local=starts_local,
                student=person(lesson.student),
                teacher=teacher_name(lesson.teacher),
                lesson_url=reverse("admin:lessons_lesson_change", args=[lesson.pk]),
                booking_url=reverse("admin:booking_booking_change", args=[lesson.booking_id]),
            )
        )
    return [
        LessonDay(
            label=label,
            day=day,
            lessons=by_day[day],
            list_url=f"{lessons_list}?"
            + urlencode({"scheduled_start_at__gte": start.isoformat(), "scheduled_start_at__lt": end.isoformat()}),
            cut_short=first_left_out is not None and day >= first_left_out,
        )
        for label, day, start, end in zip(("Today", "Tomorrow"), days, midnights[:2], midnights[1:], strict=True)
    ]


def _fix(service_call, message: str):
    """A dashboard fix: POST only (CSRF-checked by `admin_view`), admins only, then back to the dashboard."""

    @require_POST
    def view(request: HttpRequest) -> HttpResponseRedirect:
        if not can_use_dashboard(request.user):
            raise PermissionDenied
        count = service_call(actor=request.user)
        messages.success(request, message.format(count=count))
        return redirect("admin:index")

    return view


expire_holds = _fix(booking_holds_expire, "Expired {count} stale hold(s).")
expire_packages = _fix(packages_expire_due, "Expired {count} overdue package(s).")
requeue_dead_letters = _fix(
    lambda *, actor: outbox_events_requeue(
        actor=actor, dead_letter_only=True, max_retries=settings.OUTBOX_WORKER_MAX_RETRIES
    ),
    "Requeued {count} dead-letter event(s).",
)


def dashboard_urls(site) -> list:
    """The fix forms' URLs, under the admin site (so login, staff check and CSRF come with it)."""
    return [
        path("dashboard/expire-holds/", site.admin_view(expire_holds), name="dashboard_expire_holds"),
        path("dashboard/expire-packages/", site.admin_view(expire_packages), name="dashboard_expire_packages"),
        path(
            "dashboard/requeue-dead-letters/",
            site.admin_view(requeue_dead_letters),
            name="dashboard_requeue_dead_letters",
        ),
    ]
