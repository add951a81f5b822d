"""The staff dashboard on the admin index (apps/admin_ops/dashboard.py), through Django's test client.

The `school` fixture (conftest.py) has 1 stale hold, 2 dead letters and 2 retrying events at
max_retries 5, 2 pending events, 2 failed notifications and 1 overdue package.
"""

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from apps.admin_ops import dashboard, selectors
from apps.admin_ops.templatetags.staff_charts import bar_chart, nice_ceiling
from apps.audit.models import AuditLog, OutboxEvent
from apps.audit.tests.factories import OutboxEventFactory
from apps.billing.models import PackageStatus, PaymentStatus
from apps.billing.tests.factories import PackageFactory, PaymentFactory
from apps.booking.models import Booking, BookingStatus
from apps.booking.tests.factories import BookingFactory, make_hold
from apps.common import clock
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.lessons.models import Lesson, LessonStatus
from apps.scheduling.models import SlotStatus
from apps.scheduling.tests.factories import SlotFactory
from apps.teachers.tests.factories import TeacherProfileFactory

pytestmark = pytest.mark.django_db

INDEX = "/admin/"
UTC = dt.UTC


@pytest.fixture
def office(admin_user) -> Client:
    """The admin site, logged in as a school admin (role admin, staff)."""
    client = Client()
    client.force_login(admin_user)
    return client


def freeze(monkeypatch, at: dt.datetime) -> dt.datetime:
    monkeypatch.setattr(clock, "now", lambda: at)
    return at


def lesson_at(start: dt.datetime, *, teacher=None, status=LessonStatus.SCHEDULED) -> Lesson:
    """A lesson with its confirmed booking, at any time (past ones too), built straight with the ORM."""
    slot = SlotFactory(
        start_at=start,
        end_at=start + dt.timedelta(minutes=45),
        status=SlotStatus.BOOKED,
        teacher=teacher or TeacherFactory(),
    )
    booking = BookingFactory(slot=slot, status=BookingStatus.CONFIRMED, hold_expires_at=None)
    return Lesson.objects.create(
        booking=booking,
        student=booking.student,
        teacher=booking.teacher,
        scheduled_start_at=slot.start_at,
        scheduled_end_at=slot.end_at,
        status=status,
    )


# --- who sees it -------------------------------------------------------------------------------


def test_anonymous_and_non_staff_are_sent_to_the_login_page(school):
    anonymous = Client()
    response = anonymous.get(INDEX)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")

    student = Client()
    student.force_login(StudentFactory())
    response = student.get(INDEX)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")

    for client in (anonymous, student):
        response = client.post(reverse("admin:dashboard_expire_holds"))
        assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    school.stale_hold.refresh_from_db()
    assert school.stale_hold.status == BookingStatus.HOLD  # nothing changed


def test_staff_of_another_role_get_djangos_index_and_cannot_run_the_fixes(school):
    teacher_staff = TeacherFactory(is_staff=True)
    client = Client()
    client.force_login(teacher_staff)

    response = client.get(INDEX)
    assert response.status_code == 200
    assert response.context["dashboard"] is None
    assert b'id="ops-overview"' not in response.content

    assert client.post(reverse("admin:dashboard_expire_holds")).status_code == 403
    school.stale_hold.refresh_from_db()
    assert school.stale_hold.status == BookingStatus.HOLD


# --- the ops overview ----------------------------------------------------------------------------


def test_index_shows_the_ops_overview_with_links_to_the_filtered_lists(office, school, settings):
    settings.OUTBOX_WORKER_MAX_RETRIES = 5
    response = office.get(INDEX)
    assert response.status_code == 200
    html = response.content.decode()

    cards = {card.key: card for card in response.context["dashboard"]["ops_cards"]}
    assert {key: card.count for key, card in cards.items()} == {
        "stale-holds": 1,
        "dead-letters": 2,
        "failed-notifications": 2,
        "overdue-packages": 1,
    }
    assert [(f.label, f.count) for f in cards["dead-letters"].figures] == [("pending", 2), ("retrying", 2)]
    for card in cards.values():
        assert f'href="{card.list_url}"' in html.replace("&amp;", "&")
        # The filtered list shows exactly the rows the card counts (filters and overview agree).
        assert office.get(card.list_url).context["cl"].result_count == card.count, card.key
    for figure in cards["dead-letters"].figures:
        assert office.get(figure.url).context["cl"].result_count == figure.count, figure.label

    # Each card with work has its fix: a CSRF-protected POST form, or where the fix lives.
    for name in ("dashboard_expire_holds", "dashboard_requeue_dead_letters", "dashboard_expire_packages"):
        form = re.search(rf'<form method="post" action="{reverse("admin:" + name)}">(.*?)</form>', html, re.S)
        assert form and 'name="csrfmiddlewaretoken"' in form.group(1), name
    assert "Deliver selected again" in html
    # Django's index is still there: every app and model.
    assert "Identity" in html and reverse("admin:booking_booking_changelist") in html


def test_a_quiet_school_has_nothing_to_do(office):
    html = office.get(INDEX).content.decode()
    assert html.count("Nothing to do") == 4
    assert '<form method="post" action="/admin/dashboard/' not in html


def stale_and_fresh_holds() -> tuple[Booking, Booking]:
    """Two holds made by the real service; the first one's deadline has passed."""
    stale, fresh = make_hold(), make_hold()
    Booking.objects.filter(pk=stale.pk).update(hold_expires_at=clock.now() - dt.timedelta(minutes=1))
    return stale, fresh


def test_expire_holds_form_calls_the_service_as_the_admin(office, admin_user):
    stale, fresh = stale_and_fresh_holds()
    assert office.get(INDEX).context["dashboard"]["ops_cards"][0].count == 1

    response = office.post(reverse("admin:dashboard_expire_holds"), follow=True)

    assert response.redirect_chain == [("/admin/", 302)]
    assert [str(m) for m in response.context["messages"]] == ["Expired 1 stale hold(s)."]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == (BookingStatus.EXPIRED, BookingStatus.HOLD)
    stale.package.refresh_from_db()
    assert stale.package.lessons_reserved == 0  # the held lesson went back
    assert AuditLog.objects.get(action="booking.hold.expire", entity_id=stale.pk).actor == admin_user
    assert response.context["dashboard"]["ops_cards"][0].count == 0


def test_expire_packages_form_calls_the_service_as_the_admin(office, admin_user):
    overdue = PackageFactory(expires_at=clock.now() - dt.timedelta(hours=1))
    current = PackageFactory()

    response = office.post(reverse("admin:dashboard_expire_packages"), follow=True)

    assert [str(m) for m in response.context["messages"]] == ["Expired 1 overdue package(s)."]
    overdue.refresh_from_db()
    current.refresh_from_db()
    assert (overdue.status, current.status) == (PackageStatus.EXPIRED, PackageStatus.ACTIVE)
    assert AuditLog.objects.get(action="billing.package.expire", entity_id=overdue.pk).actor == admin_user


def test_requeue_form_requeues_dead_letters_only(office, admin_user, settings):
    settings.OUTBOX_WORKER_MAX_RETRIES = 5
    for retries in (1, 4, 5, 7):
        OutboxEventFactory(status=OutboxEvent.Status.FAILED, retries=retries, error_message="smtp down")

    response = office.post(reverse("admin:dashboard_requeue_dead_letters"), follow=True)

    assert [str(m) for m in response.context["messages"]] == ["Requeued 2 dead-letter event(s)."]
    failed = OutboxEvent.objects.filter(status=OutboxEvent.Status.FAILED)
    assert sorted(failed.values_list("retries", flat=True)) == [1, 4]  # the retrying ones stay the worker's
    assert OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING, retries=0, error_message="").count() == 2
    log = AuditLog.objects.get(action="notifications.outbox_event.requeue")
    assert (log.actor, log.payload["count"], log.payload["dead_letter_only"]) == (admin_user, 2, True)


def test_fix_forms_take_only_a_post_with_a_csrf_token(admin_user):
    stale, _ = stale_and_fresh_holds()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)

    assert client.get(reverse("admin:dashboard_expire_holds")).status_code == 405
    assert client.post(reverse("admin:dashboard_expire_holds")).status_code == 403  # no token
    stale.refresh_from_db()
    assert stale.status == BookingStatus.HOLD

    client.get(INDEX)  # sets the CSRF cookie, as the browser's visit does
    token = client.cookies["csrftoken"].value
    response = client.post(reverse("admin:dashboard_expire_holds"), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    stale.refresh_from_db()
    assert stale.status == BookingStatus.EXPIRED


# --- today's and tomorrow's lessons ------------------------------------------------------------------


def test_lessons_today_and_tomorrow_are_cut_in_the_staff_members_time_zone(office, admin_user, monkeypatch):
    freeze(monkeypatch, dt.datetime(2025, 3, 10, 20, 0, tzinfo=UTC))  # Tokyo: Tue 11 March, 05:00
    late_yesterday_tokyo = lesson_at(dt.datetime(2025, 3, 10, 14, 50, tzinfo=UTC))  # 23:50 on the 10th
    early_today = lesson_at(dt.datetime(2025, 3, 10, 15, 30, tzinfo=UTC))  # 00:30 on the 11th
    late_tomorrow = lesson_at(dt.datetime(2025, 3, 12, 14, 30, tzinfo=UTC), status=LessonStatus.CANCELED)
    lesson_at(dt.datetime(2025, 3, 12, 15, 10, tzinfo=UTC))  # 00:10 on the 13th: the day after tomorrow
    admin_user.timezone = "Asia/Tokyo"
    admin_user.save(update_fields=["timezone"])

    response = office.get(INDEX)
    days = response.context["dashboard"]["lesson_days"]
    assert [(day.label, day.day) for day in days] == [
        ("Today", dt.date(2025, 3, 11)),
        ("Tomorrow", dt.date(2025, 3, 12)),
    ]
    assert [[row.lesson.pk for row in day.lessons] for day in days] == [[early_today.pk], [late_tomorrow.pk]]
    html = response.content.decode()
    assert "Times in Asia/Tokyo" in html
    today = html[html.index('id="lessons-today"') : html.index('id="lessons-tomorrow"')]
    assert ">00:30</a>" in today  # local time, not 15:30 UTC
    assert reverse("admin:lessons_lesson_change", args=[early_today.pk]) in today
    assert reverse("admin:booking_booking_change", args=[early_today.booking_id]) in today
    assert early_today.student.email in today
    tomorrow = html[html.index('id="lessons-tomorrow"') :]
    assert ">23:30</a>" in tomorrow and "Canceled" in tomorrow

    # The same school seen by a colleague in UTC: the 10th is their today.
    colleague = Client()
    colleague.force_login(AdminFactory(timezone="UTC"))
    days = colleague.get(INDEX).context["dashboard"]["lesson_days"]
    assert [[row.lesson.pk for row in day.lessons] for day in days] == [
        [late_yesterday_tokyo.pk, early_today.pk],
        [],
    ]


def test_the_day_links_open_the_lessons_list_for_that_local_day(office, admin_user, monkeypatch):
    freeze(monkeypatch, dt.datetime(2025, 3, 10, 20, 0, tzinfo=UTC))
    early_today = lesson_at(dt.datetime(2025, 3, 10, 15, 30, tzinfo=UTC))
    lesson_at(dt.datetime(2025, 3, 10, 14, 50, tzinfo=UTC))
    admin_user.timezone = "Asia/Tokyo"
    admin_user.save(update_fields=["timezone"])

    today = office.get(INDEX).context["dashboard"]["lesson_days"][0]
    changelist = office.get(today.list_url)
    assert changelist.status_code == 200
    assert [lesson.pk for lesson in changelist.context["cl"].result_list] == [early_today.pk]


def test_an_unknown_time_zone_falls_back_to_utc(office, admin_user):
    type(admin_user).objects.filter(pk=admin_user.pk).update(timezone="Mars/Olympus_Mons")  # skips the validator
    response = office.get(INDEX)
    assert response.status_code == 200
    assert response.context["dashboard"]["staff_timezone"] == "UTC"
    assert dashboard.staff_timezone(type("U", (), {"timezone": ""})()).key == "UTC"


def test_teachers_are_named_as_students_know_them(office, monkeypatch):
    now = freeze(monkeypatch, dt.datetime(2025, 3, 10, 9, 0, tzinfo=UTC))
    profile = TeacherProfileFactory(display_name="Ana Flamenca")
    lesson_at(now + dt.timedelta(hours=2), teacher=profile.user)
    row = office.get(INDEX).context["dashboard"]["lesson_days"][0].lessons[0]
    assert row.teacher == "Ana Flamenca"


# session, user; ops overview 4 (outbox, notifications, holds, packages); lessons 1 (with student,
# teacher and profile); charts 1 each. Measured: 9 for 2 lessons and for 20.
DASHBOARD_QUERIES = 9


@pytest.mark.parametrize("lessons", [2, 20])
def test_the_dashboard_costs_the_same_queries_whatever_the_number_of_lessons(
    office, school, monkeypatch, lessons, django_assert_max_num_queries
):
    now = freeze(monkeypatch, dt.datetime(2025, 3, 10, 9, 0, tzinfo=UTC))
    for i in range(lessons):
        lesson_at(now + dt.timedelta(hours=1 + i), teacher=TeacherProfileFactory().user)
    with django_assert_max_num_queries(DASHBOARD_QUERIES):
        response = office.get(INDEX)
    assert sum(len(day.lessons) for day in response.context["dashboard"]["lesson_days"]) == lessons


# --- charts ------------------------------------------------------------------------------------------


def test_bookings_per_week_counts_12_utc_weeks_zero_filled_in_one_query(monkeypatch, django_assert_num_queries):
    freeze(monkeypatch, dt.datetime(2025, 3, 12, 10, 0, tzinfo=UTC))  # a Wednesday; its week starts on the 10th

    def booking_made(at):
        booking = BookingFactory()
        Booking.objects.filter(pk=booking.pk).update(created_at=at)

    booking_made(dt.datetime(2025, 3, 10, 0, 0, tzinfo=UTC))  # this week's first instant
    booking_made(dt.datetime(2025, 3, 12, 9, 0, tzinfo=UTC))
    booking_made(dt.datetime(2025, 3, 9, 23, 59, 59, tzinfo=UTC))  # last week's last second
    booking_made(dt.datetime(2024, 12, 23, 0, 0, tzinfo=UTC))  # the first of the 12 weeks
    booking_made(dt.datetime(2024, 12, 22, 23, 59, tzinfo=UTC))  # before it: not counted

    with django_assert_num_queries(1):
        weeks = selectors.bookings_per_week(weeks=12)

    assert len(weeks) == 12
    assert weeks[0].start == dt.date(2024, 12, 23) and weeks[-1].start == dt.date(2025, 3, 10)
    assert all(week.start.weekday() == 0 for week in weeks)
    assert {week.start: week.value for week in weeks if week.value} == {
        dt.date(2024, 12, 23): 1,
        dt.date(2025, 3, 3): 1,
        dt.date(2025, 3, 10): 2,
    }


def test_money_received_per_month_is_succeeded_and_refunded_by_paid_at(monkeypatch, django_assert_num_queries):
    freeze(monkeypatch, dt.datetime(2025, 3, 12, 10, 0, tzinfo=UTC))

    def paid(amount, status, at):
        PaymentFactory(amount=Decimal(amount), status=status, paid_at=at)

    paid("10.00", PaymentStatus.SUCCEEDED, dt.datetime(2025, 3, 1, 0, 0, tzinfo=UTC))
    paid("1.05", PaymentStatus.SUCCEEDED, dt.datetime(2025, 3, 12, 9, 0, tzinfo=UTC))
    paid("20.10", PaymentStatus.REFUNDED, dt.datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC))  # received, then refunded
    paid("5.00", PaymentStatus.SUCCEEDED, dt.datetime(2024, 4, 1, 0, 0, tzinfo=UTC))  # the first of the 12 months
    paid("7.00", PaymentStatus.SUCCEEDED, dt.datetime(2024, 3, 31, 23, 59, tzinfo=UTC))  # before it
    paid("99.00", PaymentStatus.FAILED, dt.datetime(2025, 3, 2, tzinfo=UTC))
    paid("99.00", PaymentStatus.PENDING, None)

    with django_assert_num_queries(1):
        months = selectors.money_received_per_month(months=12)

    assert [month.start for month in months] == [dt.date(2024, m, 1) for m in range(4, 13)] + [
        dt.date(2025, m, 1) for m in (1, 2, 3)
    ]
    assert {month.start: month.value for month in months if month.value} == {
        dt.date(2024, 4, 1): Decimal("5.00"),
        dt.date(2025, 2, 1): Decimal("20.10"),
        dt.date(2025, 3, 1): Decimal("11.05"),
    }
    assert all(month.value == Decimal("0.00") for month in months[1:-2])


def test_the_index_draws_both_charts_as_accessible_svg(office, monkeypatch):
    freeze(monkeypatch, dt.datetime(2025, 3, 12, 10, 0, tzinfo=UTC))
    PaymentFactory(amount=Decimal("1234.50"), status=PaymentStatus.SUCCEEDED, paid_at=clock.now())
    html = office.get(INDEX).content.decode()

    for chart_id, title in (
        ("chart-bookings", "Bookings per week, last 12 weeks"),
        ("chart-money", "Money received per month, last 12 months"),
    ):
        figure = html[html.index(f'id="{chart_id}"') :]
        figure = figure[: figure.index("</figure>")]
        assert f'<title id="{chart_id}-title">{title}</title>' in figure
        assert f'aria-labelledby="{chart_id}-title {chart_id}-desc"' in figure
        assert figure.count("<rect ") == 12
        assert figure.count('<tr><th scope="row">') == 12 + 1  # the numbers as a table, and their total
        assert "UTC" in figure
    money = html[html.index('id="chart-money"') :]
    assert "March 2025: 1,234.50" in money and "Total: <strong>1,234.50</strong>" in money
    assert "http://" not in html.split("<body", 1)[1].replace("http://www.w3.org/2000/svg", "")


def test_bar_chart_scales_bars_to_a_round_top():
    points = [
        selectors.PeriodValue(start=dt.date(2025, 1, 6) + dt.timedelta(weeks=i), value=v)
        for i, v in enumerate([0, 3, 5])
    ]
    chart = bar_chart(points, chart_id="c", title="t", period="week", value_label="Bookings")
    assert [line.label for line in chart["grid"]] == ["0", "3", "6"]
    heights = [bar.height for bar in chart["bars"]]
    assert heights[0] == 0 and heights[2] == pytest.approx(heights[1] * 5 / 3, abs=0.2)
    assert [(bar.label, bar.sublabel) for bar in chart["bars"]] == [("6", "Jan"), ("13", ""), ("20", "")]
    assert chart["total"] == "8"
    assert [nice_ceiling(v) for v in (0, 1, 3, 5, 7, 9, 11, 995, 1001, 45_000)] == [
        2,
        2,
        4,
        6,
        8,
        10,
        20,
        1000,
        2000,
        60_000,
    ]


def test_a_busy_day_is_cut_short_with_a_pointer_to_the_list(office, monkeypatch):
    now = freeze(monkeypatch, dt.datetime(2025, 3, 10, 9, 0, tzinfo=UTC))
    monkeypatch.setattr(dashboard, "LESSONS_SHOWN", 2)
    for hours in (1, 2, 3):
        lesson_at(now + dt.timedelta(hours=hours))

    today, tomorrow = office.get(INDEX).context["dashboard"]["lesson_days"]
    assert (len(today.lessons), today.cut_short) == (2, True)
    assert (len(tomorrow.lessons), tomorrow.cut_short) == (0, True)  # unknown, so never "No lessons."
    html = office.get(INDEX).content.decode()
    assert html.count("the list has them all") == 2 and "No lessons." not in html

    monkeypatch.setattr(dashboard, "LESSONS_SHOWN", 3)
    today, tomorrow = office.get(INDEX).context["dashboard"]["lesson_days"]
    assert (len(today.lessons), today.cut_short, tomorrow.cut_short) == (3, False, False)
