"""Schema fuzzing: every operation of our own OpenAPI document, driven by schemathesis.

The schema is fetched from `/api/schema` through the WSGI app in-process, and
every operation is called with generated input (schemathesis' coverage and
fuzzing phases, valid and invalid data) as an admin, a student, a teacher and
an anonymous client. Each response must:

- not be a 5xx;
- have a status code, content type and body that the schema documents;
- when it is an error (4xx/5xx), be the SPEC envelope
  `{"error": {"code": str, "message": str, "details": object}}` (429 also with
  a whole-seconds `Retry-After`);
- not be a 400 when the schema calls the input valid, so the schema states the
  input rules (bounds, enums, required fields) the API enforces.

Random UUIDs only ever reach "not found", so every other generated case has its
id fields (path, query and body) swapped for ids of a small seeded school owned
by the fuzzing users: the happy paths and their response bodies get checked too.

A role that is refused (401/403) on its first few requests to an operation is
not allowed there at all; its remaining generated cases are skipped, which
keeps the module fast without losing a check.

Rate-limited auth endpoints answer 429 once a test's budget is spent; 429 is a
documented status, so that is a pass as long as its body is the envelope.

Examples are bounded and derandomized: fast and reproducible in CI.
"""

import itertools
from datetime import timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.billing.tests.factories import PackageFactory, PaymentFactory, PlanFactory
from apps.booking.tests.factories import future_slot, make_confirmed, make_hold
from apps.common import clock
from apps.identity.tests.factories import DEFAULT_PASSWORD, AdminFactory, StudentFactory, TeacherFactory
from apps.lessons.models import Lesson
from apps.lessons.services import calendar_feed_get_or_create
from apps.notifications.tests.factories import NotificationFactory
from apps.scheduling.tests.factories import make_schedule
from apps.teachers.tests.factories import TeacherProfileFactory
from conftest import bearer_for
from guitaronline.wsgi import application

MAX_EXAMPLES = 12
# A role refused (401/403) on its first this-many requests to an operation skips the rest of them.
REFUSED_PROBES = 6

schema = schemathesis.openapi.from_wsgi("/api/schema?format=json", application)


@schemathesis.check
def error_envelope(ctx, response, case):
    """Every 4xx/5xx body is exactly the SPEC error envelope."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError as exc:
        raise AssertionError(f"{response.status_code} body is not JSON: {response.text[:200]!r}") from exc
    assert isinstance(body, dict) and set(body) == {"error"}, f"not an error envelope: {body!r}"
    error = body["error"]
    assert isinstance(error, dict) and set(error) == {"code", "message", "details"}, f"bad envelope: {body!r}"
    assert isinstance(error["code"], str) and error["code"], f"error.code must be a non-empty string: {body!r}"
    assert isinstance(error["message"], str), f"error.message must be a string: {body!r}"
    assert isinstance(error["details"], dict), f"error.details must be an object: {body!r}"
    if response.status_code == 429:
        retry_after = response.headers.get("retry-after") or [""]  # lower-case keys, list values
        assert retry_after[0].isdigit(), f"429 without a whole-seconds Retry-After: {response.headers!r}"
    return None


# Rules a JSON schema cannot state; a 400 naming only these fields is fine for schema-valid input.
UNSCHEMATIZABLE_RULES = {
    # Django's password validators, its stricter email validator, IANA time zone names.
    "POST /api/v1/identity/auth/register": {"email", "password", "timezone"},
    "PATCH /api/v1/identity/users/me": {"timezone"},
    # `to` must not be earlier than `from`.
    "GET /api/v1/scheduling/slots/open": {"to"},
    "GET /api/v1/lessons/my": {"to"},
    # `to` must be later than `from`, by at most 366 days.
    "GET /api/v1/admin/kpi/sales": {"to"},
    # No NUL character or unpaired surrogate anywhere inside the free-form JSON object (jsonb cannot store them).
    "POST /api/v1/admin/actions": {"payload"},
    "POST /api/v1/audit/logs": {"payload"},
    # IANA time zone names; windows must not overlap on a weekday, end after start and hold a slot.
    "PUT /api/v1/scheduling/teachers/{teacher_id}/schedule": {"timezone", "windows"},
    # to_date >= from_date, at most 92 days, within a year back and two years ahead.
    "POST /api/v1/scheduling/teachers/{teacher_id}/schedule/generate": {"from_date", "to_date"},
}


# Every text field refuses these (DRF's CharField; PostgreSQL cannot store them); the schema leaves it unsaid.
UNSTORABLE_TEXT_MESSAGES = ("Null characters are not allowed.", "Surrogate characters are not allowed")


def _only_unstorable_text(messages) -> bool:
    return isinstance(messages, list) and all(str(m).startswith(UNSTORABLE_TEXT_MESSAGES) for m in messages)


@schemathesis.check
def valid_input_is_not_malformed(ctx, response, case):
    """Input the schema calls valid is never a 400: the schema states every input rule it can (bounds, enums...)."""
    if response.status_code != 400 or case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    details = response.json().get("error", {}).get("details")
    allowed = UNSCHEMATIZABLE_RULES.get(case.operation.label, set())
    unexplained = {field for field, messages in (details or {}).items() if not _only_unstorable_text(messages)}
    assert details and unexplained <= allowed, (
        f"schema-valid input refused as malformed; document the rule in the schema: {details!r}"
    )
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    error_envelope,
    valid_input_is_not_malformed,
]


@pytest.fixture
def _in_process_requests():
    """Keep the test transaction's connection across in-process WSGI requests (as Django's test client does)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, _in_process_requests):
    """A small school: the fuzzing student's package, hold, confirmed booking, lesson, payment, notification."""
    admin, student, teacher, new_teacher = AdminFactory(), StudentFactory(), TeacherFactory(), TeacherFactory()
    profile = TeacherProfileFactory(user=teacher)
    make_schedule(teacher, windows=[(d, "08:00", "12:00") for d in range(7)], timezone="Europe/Berlin")
    package = PackageFactory(student=student, lessons_total=20, lessons_left=20)
    hold = make_hold(student=student, package=package, slot=future_slot(hours=30, teacher=teacher))
    confirmed = make_confirmed(student=student, package=package, slot=future_slot(hours=50, teacher=teacher))
    open_slots = [future_slot(hours=70 + 2 * i, teacher=teacher) for i in range(3)]
    ids = {
        "booking_id": [confirmed.pk, hold.pk],
        "lesson_id": [Lesson.objects.get(booking=confirmed).pk],
        "profile_id": [profile.pk],
        "payment_id": [PaymentFactory(package=package).pk],
        "notification_id": [NotificationFactory(user=student).pk],
        "student_id": [student.pk],
        "package_id": [package.pk],
        "slot_id": [slot.pk for slot in open_slots],
        "new_slot_id": [slot.pk for slot in open_slots],
        "teacher_id": [teacher.pk],
        # An active plan to sell packages from (and to PATCH), and an inactive one (422 on a sale).
        "plan_id": [PlanFactory().pk, PlanFactory(is_active=False).pk],
        # A period around the seeded rows, so period filters and the sales figures get past "to <= from".
        "from": [(clock.now() - timedelta(days=30)).isoformat()],
        "to": [(clock.now() + timedelta(days=30)).isoformat()],
        # A teacher without a profile (role change 200), a student, and a teacher still teaching (role change 422).
        "user_id": [new_teacher.pk, student.pk, teacher.pk],
        # Credentials too, so login, refresh and logout get past "invalid" (and register meets a taken email).
        "email": [student.email],
        "password": [DEFAULT_PASSWORD],
        "refresh_token": [str(RefreshToken.for_user(student))],
        # The calendar feed's secret (`/calendar/{token}.ics`), so the feed itself gets fetched and checked.
        "token": [calendar_feed_get_or_create(user=student).token],
    }
    users = {"admin": admin, "student": student, "teacher": teacher, "anonymous": None}
    return {"users": users, "ids": ids, "responses": [], "cases": itertools.count()}


def _use_world_ids(case, world: dict) -> None:
    """Every other case: replace generated values of known id (and credential) fields with the seeded world's."""
    n, ids = next(world["cases"]), world["ids"]
    if n % 2:
        return
    containers = [case.path_parameters, case.query, case.body if isinstance(case.body, dict) else None]
    for container in containers:
        for name, values in ids.items():
            if container and name in container:
                container[name] = str(values[(n // 2) % len(values)])


@pytest.fixture(params=["admin", "student", "teacher", "anonymous"])
def role(request):
    return request.param


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms_to_schema(case, role, world):
    user = world["users"][role]
    headers = {"Authorization": bearer_for(user)} if user is not None else {}
    statuses = world["responses"]
    if len(statuses) >= REFUSED_PROBES and set(statuses) <= {401, 403}:
        # This role may not use this operation at all, and its refusals were already checked:
        # the rest of its inputs would only be refused again, so save the time.
        return
    _use_world_ids(case, world)
    response = case.call_and_validate(headers=headers, checks=CHECKS)
    statuses.append(response.status_code)
