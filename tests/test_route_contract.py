"""The API's routes are exactly the SPEC's: every (method, path) it names exists, and nothing else.

`SECTION_3_ROUTES` and `SECTION_8_ROUTES` are SPEC §3 and §8, written with the
SPEC's own paths (parameters as `{id}`); the URL conf is read both ways against them. Service endpoints (`/health`,
`/ready`, `/docs`, `/api/schema`, `/admin/`) are outside `/api/v1` and not
part of this table. When the SPEC file is beside the project (`../shared/SPEC.md`),
the table is also checked against §3's endpoint lines, so the table cannot drift.
"""

import itertools
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver

SECTION_3_ROUTES = {
    # Identity
    ("POST", "/api/v1/identity/auth/register"),
    ("POST", "/api/v1/identity/auth/login"),
    ("POST", "/api/v1/identity/auth/refresh"),
    ("POST", "/api/v1/identity/auth/logout"),
    ("GET", "/api/v1/identity/users/me"),
    # Teachers
    ("POST", "/api/v1/teachers/profiles"),
    ("PATCH", "/api/v1/teachers/profiles/{id}"),
    ("GET", "/api/v1/teachers/profiles"),
    ("GET", "/api/v1/teachers/profiles/{id}"),
    # Scheduling
    ("POST", "/api/v1/scheduling/slots"),
    ("GET", "/api/v1/scheduling/slots/open"),
    # Booking
    ("POST", "/api/v1/booking/hold"),
    ("POST", "/api/v1/booking/{id}/confirm"),
    ("POST", "/api/v1/booking/{id}/cancel"),
    ("POST", "/api/v1/booking/{id}/reschedule"),
    ("POST", "/api/v1/booking/holds/expire"),
    ("GET", "/api/v1/booking/my"),
    ("GET", "/api/v1/booking/{id}"),
    # Billing
    ("POST", "/api/v1/billing/packages"),
    ("GET", "/api/v1/billing/packages/students/{id}"),
    ("POST", "/api/v1/billing/packages/expire"),
    ("POST", "/api/v1/billing/payments"),
    ("PATCH", "/api/v1/billing/payments/{id}/status"),
    ("GET", "/api/v1/billing/payments"),
    # Lessons (relative to /api/v1)
    ("POST", "/api/v1/lessons"),
    ("PATCH", "/api/v1/lessons/{id}"),
    ("GET", "/api/v1/lessons/my"),
    # Notifications (relative to /api/v1)
    ("POST", "/api/v1/notifications"),
    ("PATCH", "/api/v1/notifications/{id}/status"),
    ("GET", "/api/v1/notifications/my"),
    ("GET", "/api/v1/notifications/delivery/metrics"),
    # Admin operations
    ("POST", "/api/v1/admin/actions"),
    ("GET", "/api/v1/admin/actions"),
    ("GET", "/api/v1/admin/kpi/overview"),
    ("GET", "/api/v1/admin/ops/overview"),
    # Audit
    ("POST", "/api/v1/audit/logs"),
    ("GET", "/api/v1/audit/logs"),
    ("GET", "/api/v1/audit/outbox/pending"),
}

SECTION_8_ROUTES: set[tuple[str, str]] = {
    # 8.1 People
    ("PATCH", "/api/v1/identity/users/me"),
    ("GET", "/api/v1/admin/users"),
    ("POST", "/api/v1/admin/users/{id}/role"),
    ("POST", "/api/v1/admin/users/{id}/deactivate"),
    ("POST", "/api/v1/admin/users/{id}/activate"),
    # 8.2 Teachers
    ("GET", "/api/v1/admin/teachers"),
    # 8.2 Teachers
    ("POST", "/api/v1/admin/teachers/{id}/disable"),
    # 8.3 Weekly schedules and slots
    ("GET", "/api/v1/scheduling/teachers/{id}/schedule"),
    ("PUT", "/api/v1/scheduling/teachers/{id}/schedule"),
    ("POST", "/api/v1/scheduling/teachers/{id}/schedule/generate"),
    ("POST", "/api/v1/scheduling/slots/{id}/cancel"),
    ("GET", "/api/v1/scheduling/slots/my"),
    # 8.4 Billing and sales
    ("POST", "/api/v1/billing/packages/{id}/cancel"),
    # §8.5 Calendar (`{token}.ics` is written `{id}.ics`: every path parameter is `{id}` here)
    ("GET", "/api/v1/calendar/feed"),
    ("POST", "/api/v1/calendar/feed/rotate"),
    ("GET", "/api/v1/calendar/{id}.ics"),
    # 8.4 Billing and sales (plans, sales)
    ("GET", "/api/v1/billing/plans"),
    ("POST", "/api/v1/billing/plans"),
    ("PATCH", "/api/v1/billing/plans/{id}"),
    ("GET", "/api/v1/admin/kpi/sales"),
    # 8.5 Teachers' and students' day
    ("GET", "/api/v1/booking/teacher/students"),
}

SPEC_ROUTES = SECTION_3_ROUTES | SECTION_8_ROUTES

_CONVERTER = re.compile(r"<(?:\w+:)?\w+>")
_PARAMETER = re.compile(r"\{\w+\}")


def _served_routes() -> set[tuple[str, str]]:
    """(METHOD, /path) for every API route of the URL conf, path parameters written `{id}`."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    routes = set()
    for route, view in walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/"):
            continue
        actions = getattr(view, "actions", None)
        if actions is not None:  # a DRF viewset route: {method: action}
            methods = {method for method in actions if method not in ("head", "options")}
        else:  # anything else must say which methods it serves
            view_class = getattr(view, "cls", None) or getattr(view, "view_class", None)
            assert view_class is not None, f"{route}: cannot tell which methods it serves"
            methods = {
                m for m in view_class.http_method_names if m not in ("head", "options") and hasattr(view_class, m)
            }
        for method in methods:
            routes.add((method.upper(), "/" + _CONVERTER.sub("{id}", route)))
    return routes


def test_every_spec_route_is_served():
    missing = SPEC_ROUTES - _served_routes()
    assert not missing, f"SPEC routes the URL conf does not serve: {sorted(missing)}"


def test_no_route_the_spec_does_not_name():
    extra = _served_routes() - SPEC_ROUTES
    assert not extra, f"routes the SPEC does not name: {sorted(extra)}"


def test_no_doubled_section_prefix():
    for _, path in _served_routes():
        parts = path.split("/")
        assert not any(a == b for a, b in itertools.pairwise(parts) if a), path


# --- the table against SPEC §3 itself, when the SPEC is beside the project ---------------------

SPEC_FILE = Path(settings.BASE_DIR).parent / "shared" / "SPEC.md"
_SECTION = re.compile(r"^### (\w[\w ]*?) — `(/api/v1/[\w/]+)`(.*)$")
_ENDPOINT = re.compile(r"`(GET|POST|PATCH|PUT|DELETE) (/[^`?\s]*)")


def _spec_section_3_routes(text: str) -> set[tuple[str, str]]:
    body = text.split("## 3. Endpoints", 1)[1].split("\n## 4.", 1)[0]
    routes, base = set(), None
    for line in body.splitlines():
        heading = _SECTION.match(line)
        if heading:
            # "Lessons — `/api/v1/lessons` (lines below are relative to `/api/v1`)"
            base = "/api/v1" if "relative to `/api/v1`" in heading.group(3) else heading.group(2)
            continue
        if line.startswith("### "):
            base = None  # Service: outside /api/v1
            continue
        if base and (line.startswith("- ") or line.startswith("  ")):  # a bullet or its continuation
            for method, path in _ENDPOINT.findall(line):
                routes.add((method, _PARAMETER.sub("{id}", base + path)))
    return routes


@pytest.mark.skipif(not SPEC_FILE.exists(), reason=f"SPEC not found at {SPEC_FILE}")
def test_the_table_is_spec_section_3():
    assert _spec_section_3_routes(SPEC_FILE.read_text()) == SECTION_3_ROUTES


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), sorted(SPEC_ROUTES))
def test_each_spec_route_answers_its_method_without_a_redirect(api_client, method, path):
    response = getattr(api_client, method.lower())(path.replace("{id}", "00000000-0000-4000-8000-000000000000"))
    assert not 300 <= response.status_code < 400, response
    assert response.status_code != 405, f"{method} {path} is not routed to a handler"
    assert response["Content-Type"].startswith("application/json")
