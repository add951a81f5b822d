"""A real browser: Swagger UI renders offline, and staff use the admin site."""

from urllib.parse import urlparse

import pytest


@pytest.mark.django_db(transaction=True)
def test_swagger_ui_lists_operations_without_leaving_localhost(live_server, page, artifacts):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(f"{live_server.url}/docs")
    page.wait_for_selector(".opblock", timeout=20_000)

    operations = page.locator(".opblock-summary-path").all_inner_texts()
    page.screenshot(path=str(artifacts / "docs.png"), full_page=False)
    assert "/api/v1/booking/hold" in " ".join(operations)
    assert len(operations) >= 30
    server_host = urlparse(live_server.url).hostname
    outside = [
        url for url in requested if urlparse(url).scheme in ("http", "https") and urlparse(url).hostname != server_host
    ]
    assert requested, "the page made no requests at all"
    assert outside == [], f"requests left the machine: {outside}"
    # The Content-Security-Policy is on, and Swagger UI works inside it.
    response = page.request.get(f"{live_server.url}/docs")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    page.locator(".opblock-summary-path", has_text="/api/v1/booking/hold").first.click()
    page.wait_for_selector(".opblock-body", timeout=10_000)
    assert page.csp_violations() == []


@pytest.mark.django_db(transaction=True)
def test_staff_cancel_a_booking_through_the_admin_site(live_server, page, artifacts):
    from apps.booking.models import Booking, BookingStatus
    from apps.booking.tests.factories import make_confirmed
    from apps.identity.tests.factories import DEFAULT_PASSWORD, AdminFactory

    staff = AdminFactory(email="staff@example.com")
    booking = make_confirmed()
    package = booking.package
    package.refresh_from_db()
    lessons_left = package.lessons_left

    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=username]", staff.email)
    page.fill("input[name=password]", DEFAULT_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto(f"{live_server.url}/admin/booking/booking/")
    page.wait_for_selector("#result_list")
    page.screenshot(path=str(artifacts / "admin-bookings.png"), full_page=True)
    page.check(f"input.action-select[value='{booking.pk}']")
    page.select_option("select[name=action]", "cancel_bookings")
    page.click("button[name=index]")
    page.wait_for_selector("ul.messagelist")
    page.screenshot(path=str(artifacts / "admin-bookings-canceled.png"), full_page=True)

    assert page.csp_violations() == []

    booking.refresh_from_db()
    package.refresh_from_db()
    assert booking.status == BookingStatus.CANCELED
    assert booking.refund_returned is True  # staff cancels always return the lesson
    assert package.lessons_left == lessons_left + 1
    assert Booking.objects.filter(status=BookingStatus.CONFIRMED).count() == 0


@pytest.mark.django_db(transaction=True)
def test_staff_login_past_the_limit_shows_the_login_page_with_the_reason(live_server, page, artifacts, monkeypatch):
    import django_ratelimit.core

    from apps.identity.tests.factories import DEFAULT_PASSWORD, AdminFactory
    from apps.identity.tests.test_ratelimits import FrozenTime

    # The server runs in this process: stop the clock so the 60 s window cannot roll over mid-test.
    monkeypatch.setattr(django_ratelimit.core, "time", FrozenTime(1_800_000_030.0))
    staff = AdminFactory(email="staff@example.com")

    def log_in(password: str):
        page.goto(f"{live_server.url}/admin/login/?next=/admin/")
        page.fill("input[name=username]", staff.email)
        page.fill("input[name=password]", password)
        with page.expect_navigation() as navigation:
            page.click("input[type=submit]")
        return navigation.value

    for _ in range(10):
        assert log_in("wrong-password").status == 200
    response = log_in(DEFAULT_PASSWORD)
    page.screenshot(path=str(artifacts / "admin-login-rate-limited.png"), full_page=True)

    assert response.status == 429
    assert "Too many login attempts from your address" in page.locator(".errornote").inner_text()
    assert page.locator("#login-form input[name=password]").is_visible()
    page.goto(f"{live_server.url}/admin/")
    assert "/admin/login/" in page.url  # no session was opened


@pytest.mark.django_db(transaction=True)
def test_staff_dashboard_with_the_demo_school(live_server, page, artifacts):
    from datetime import timedelta
    from io import StringIO

    from django.core.management import call_command

    from apps.admin_ops.management.commands.seed_demo_data import ADMIN_EMAIL, ADMIN_PASSWORD
    from apps.audit.models import OutboxEvent
    from apps.booking.models import Booking, BookingStatus
    from apps.common import clock
    from apps.lessons.models import Lesson

    call_command("seed_demo_data", stdout=StringIO())
    # Give the office something to fix: the demo's open hold goes stale, two events run out of retries.
    Booking.objects.filter(status=BookingStatus.HOLD).update(hold_expires_at=clock.now() - timedelta(minutes=5))
    dead = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).order_by("occurred_at")[:2]
    OutboxEvent.objects.filter(pk__in=[event.pk for event in dead]).update(
        status=OutboxEvent.Status.FAILED, retries=5, error_message="SMTP connection refused"
    )

    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: problems.append(message) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(error))

    page.goto(f"{live_server.url}/admin/")
    page.fill("input[name=username]", ADMIN_EMAIL)
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#ops-overview")

    for section in ("#ops-overview", "#upcoming-lessons", "#charts", "#chart-bookings svg", "#chart-money svg"):
        assert page.locator(section).is_visible(), section
    assert page.locator("#ops-stale-holds .ops-count").inner_text() == "1"
    assert page.locator("#ops-dead-letters .ops-count").inner_text() == "2"
    # The demo's lessons of today and tomorrow (the demo admin's time zone is UTC), each a row.
    today = clock.now().date()
    expected = Lesson.objects.filter(scheduled_start_at__date__in=[today, today + timedelta(days=1)]).count()
    shown = page.locator("#lessons-today tbody tr").count() + page.locator("#lessons-tomorrow tbody tr").count()
    assert shown == expected
    assert page.locator("#chart-bookings rect").count() == 12
    assert page.locator("#chart-money rect").count() == 12
    page.screenshot(path=str(artifacts / "admin-dashboard.png"), full_page=True)

    page.click("#ops-stale-holds input[type=submit]")
    page.wait_for_selector("ul.messagelist")
    assert "Expired 1 stale hold(s)." in page.locator("ul.messagelist").inner_text()
    assert page.locator("#ops-stale-holds .ops-count").inner_text() == "0"
    assert Booking.objects.filter(status=BookingStatus.HOLD).count() == 0
    page.screenshot(path=str(artifacts / "admin-dashboard-fixed.png"), full_page=True)

    page.click("#ops-dead-letters .ops-count a")
    page.wait_for_selector("#result_list")
    assert page.locator("#result_list tbody tr").count() == 2

    # Lists lead with people and status: status is on screen at 1280 px with the navigation open,
    # not scrolled off to the right of the list.
    for changelist, leading in (
        ("lessons/lesson", ["student", "teacher", "status"]),
        ("scheduling/availabilityslot", ["teacher", "status", "start at"]),
        ("billing/lessonpackage", ["student", "status", "lessons left / total"]),
        ("billing/payment", ["student", "status", "amount"]),
        ("booking/booking", ["student", "teacher", "status", "slot start"]),
    ):
        page.goto(f"{live_server.url}/admin/{changelist}/")
        page.wait_for_selector("#result_list tbody tr")
        headers = [text.strip().lower() for text in page.locator("#result_list thead th").all_inner_texts()]
        assert [header for header in headers if header][: len(leading)] == leading, changelist  # not the checkbox
        status_header = page.locator("#result_list thead th.column-status").bounding_box()
        results = page.locator("#changelist .results").bounding_box()
        assert status_header["x"] + status_header["width"] <= results["x"] + results["width"], changelist
    page.screenshot(path=str(artifacts / "admin-bookings-demo.png"), full_page=True)

    server_host = urlparse(live_server.url).hostname
    outside = [
        url for url in requested if urlparse(url).scheme in ("http", "https") and urlparse(url).hostname != server_host
    ]
    assert outside == [], f"requests left the machine: {outside}"
    # The site serves no /favicon.ico; the browser asks for one on its own (no page names it), so that 404 is not ours.
    errors = [p for p in problems if not (hasattr(p, "location") and p.location["url"].endswith("/favicon.ico"))]
    assert errors == [], f"console errors: {[str(getattr(p, 'text', p)) for p in errors]}"
