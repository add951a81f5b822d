"""Every endpoint that takes an object id refuses users who do not own the object.

The matrix is generated from the URL conf: a new `<uuid:...>` route without an
entry in OBJECT_ROUTES fails `test_every_object_route_is_in_the_matrix`, so a
new endpoint cannot be forgotten. Each refusal is checked to change nothing
in any table.

A path parameter that is not a uuid is a secret (SECRET_ROUTES): the calendar
feed's `<slug:token>.ics` is public by design (calendar apps cannot log in), the
token being the only credential; whoever asks without the current token gets
404 and nothing changes. `GET /calendar/feed` and its rotate take no id: they
only ever touch the caller's own feed.
"""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import URLResolver, get_resolver

from apps.billing.tests.factories import PackageFactory, PaymentFactory, PlanFactory
from apps.booking.tests.factories import future_slot, make_confirmed
from apps.common import clock
from apps.identity.tests.factories import StudentFactory, TeacherFactory
from apps.lessons.models import Lesson
from apps.lessons.services import calendar_feed_get_or_create, calendar_feed_rotate
from apps.notifications.tests.factories import NotificationFactory
from apps.scheduling.tests.factories import make_schedule
from apps.teachers.tests.factories import TeacherProfileFactory

TABLES = [
    "users",
    "teacher_profiles",
    "availability_slots",
    "bookings",
    "lesson_packages",
    "payments",
    "lessons",
    "notifications",
    "audit_logs",
    "outbox_events",
    "admin_actions",
    "calendar_feeds",
    "lesson_reminders",
    "plans",
    "weekly_schedules",
    "weekly_schedule_windows",
]


def _api_routes() -> set[str]:
    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern)

    return {route for route in walk(get_resolver().url_patterns) if route.startswith("api/v1/")}


def _object_routes() -> set[str]:
    return {route for route in _api_routes() if "<uuid:" in route}


@dataclass
class World:
    """An owner's objects, plus users who must not touch them."""

    owner_student: object
    owner_teacher: object
    other_student: object
    other_teacher: object
    ids: dict


def build_world() -> World:
    owner_student, owner_teacher = StudentFactory(), TeacherFactory()
    package = PackageFactory(student=owner_student, lessons_total=5, lessons_left=5)
    booking = make_confirmed(student=owner_student, package=package, slot=future_slot(hours=72, teacher=owner_teacher))
    lesson = Lesson.objects.get(booking=booking)
    Lesson.objects.filter(pk=lesson.pk).update(scheduled_start_at=clock.now() - timedelta(minutes=5))
    new_slot = future_slot(hours=96, teacher=owner_teacher)
    profile = TeacherProfileFactory(user=owner_teacher, is_approved=False)
    make_schedule(owner_teacher, windows=[(d, "09:00", "12:00") for d in range(7)])
    payment = PaymentFactory(package=package)
    notification = NotificationFactory(user=owner_student)
    return World(
        owner_student=owner_student,
        owner_teacher=owner_teacher,
        other_student=StudentFactory(),
        other_teacher=TeacherFactory(),
        ids={
            "booking_id": booking.pk,
            "lesson_id": lesson.pk,
            "profile_id": profile.pk,
            "payment_id": payment.pk,
            "notification_id": notification.pk,
            "student_id": owner_student.pk,
            "new_slot_id": new_slot.pk,
            "slot_id": booking.slot_id,
            "package_id": package.pk,
            "teacher_id": owner_teacher.pk,
            "plan_id": PlanFactory().pk,
            "user_id": owner_student.pk,
        },
    )


# route -> {method: body factory}; the body is a valid request for the owner.
OBJECT_ROUTES = {
    "api/v1/teachers/profiles/<uuid:profile_id>": {
        "get": None,
        "patch": lambda ids: {"display_name": "Hijacked", "is_approved": True},
    },
    "api/v1/booking/<uuid:booking_id>": {"get": None},
    "api/v1/booking/<uuid:booking_id>/confirm": {"post": lambda ids: {}},
    "api/v1/booking/<uuid:booking_id>/cancel": {"post": lambda ids: {"reason": "not mine"}},
    "api/v1/booking/<uuid:booking_id>/reschedule": {"post": lambda ids: {"new_slot_id": str(ids["new_slot_id"])}},
    "api/v1/billing/packages/students/<uuid:student_id>": {"get": None},
    "api/v1/billing/payments/<uuid:payment_id>/status": {"patch": lambda ids: {"status": "succeeded"}},
    "api/v1/lessons/<uuid:lesson_id>": {"patch": lambda ids: {"status": "completed", "notes": "x"}},
    "api/v1/notifications/<uuid:notification_id>/status": {"patch": lambda ids: {"status": "sent"}},
    # SPEC §8: the cascades that cancel bookings on someone's behalf
    "api/v1/scheduling/slots/<uuid:slot_id>/cancel": {"post": lambda ids: {"reason": "not mine"}},
    "api/v1/billing/packages/<uuid:package_id>/cancel": {"post": lambda ids: {"force": True, "reason": "not mine"}},
    "api/v1/admin/teachers/<uuid:teacher_id>/disable": {"post": lambda ids: {"reason": "not mine"}},
    # Plans belong to the school: only admins change them.
    "api/v1/billing/plans/<uuid:plan_id>": {"patch": lambda ids: {"price": "1.00", "is_active": False}},
    # Staff only: nobody may promote, deactivate or reactivate anyone, themselves included (the owner is a student).
    "api/v1/admin/users/<uuid:user_id>/role": {"post": lambda ids: {"role": "admin"}},
    "api/v1/admin/users/<uuid:user_id>/deactivate": {"post": lambda ids: {}},
    "api/v1/admin/users/<uuid:user_id>/activate": {"post": lambda ids: {}},
    # SPEC §8.3: a teacher's weekly schedule, and slots generated from it (admin, or that teacher)
    "api/v1/scheduling/teachers/<uuid:teacher_id>/schedule": {
        "get": None,
        "put": lambda ids: {"timezone": "UTC", "windows": [{"weekday": 0, "start": "06:00", "end": "22:00"}]},
    },
    "api/v1/scheduling/teachers/<uuid:teacher_id>/schedule/generate": {
        "post": lambda ids: {
            "from_date": clock.now().date().isoformat(),
            "to_date": (clock.now() + timedelta(days=27)).date().isoformat(),
        }
    },
}

INTRUDERS = ("anonymous", "other_student", "other_teacher")
# Hiding an object's existence (404) is as good a refusal as 403 for a logged-in intruder.
REFUSED = {"anonymous": {401}, "other_student": {403, 404}, "other_teacher": {403, 404}}
# Public reads need no token: an unapproved profile is simply not found for anyone but its owner and admins.
PUBLIC_READS = {("api/v1/teachers/profiles/<uuid:profile_id>", "get")}

CASES = [
    pytest.param(route, method, intruder, id=f"{method.upper()} {route} as {intruder}")
    for route, methods in OBJECT_ROUTES.items()
    for method in methods
    for intruder in INTRUDERS
]


def _fill(route: str, ids: dict) -> str:
    path = "/" + route
    for name, value in ids.items():
        path = path.replace(f"<uuid:{name}>", str(value))
    assert "<" not in path, f"no id for {route}"
    return path


def _fingerprint() -> dict:
    with connection.cursor() as cursor:
        out = {}
        for table in TABLES:
            cursor.execute(f"SELECT count(*), max(updated_at) FROM {table}")
            out[table] = cursor.fetchone()
        return out


def test_every_object_route_is_in_the_matrix():
    assert _object_routes() == set(OBJECT_ROUTES)


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method", "intruder"), CASES)
def test_intruders_are_refused_and_nothing_changes(route, method, intruder, client_for):
    world = build_world()
    user = None if intruder == "anonymous" else getattr(world, intruder)
    client = client_for(user)
    body_factory = OBJECT_ROUTES[route][method]
    before = _fingerprint()

    call = getattr(client, method)
    response = (
        call(_fill(route, world.ids), body_factory(world.ids), format="json")
        if body_factory
        else call(_fill(route, world.ids))
    )

    expected = {404} if (route, method) in PUBLIC_READS else REFUSED[intruder]
    assert response.status_code in expected, response.content
    assert response.json()["error"]["code"] in {"not_authenticated", "forbidden", "not_found"}
    assert _fingerprint() == before


# --- secrets in the path: public by design, the secret is the credential ------------------------------

SECRET_ROUTES = {"api/v1/calendar/<slug:token>.ics"}


def test_every_other_path_parameter_is_a_secret_route():
    assert {route for route in _api_routes() if "<" in route} - _object_routes() == SECRET_ROUTES


@pytest.mark.django_db
@pytest.mark.parametrize("caller", ["anonymous", "other_student", "other_teacher", "owner_student"])
def test_a_calendar_feed_answers_its_current_token_only_whoever_asks(caller, client_for):
    world = build_world()
    rotated_out = calendar_feed_get_or_create(user=world.owner_student).token
    token = calendar_feed_rotate(user=world.owner_student).token
    client = client_for(None if caller == "anonymous" else getattr(world, caller))
    before = _fingerprint()

    for wrong in (rotated_out, "x" * 43, token[:-1]):
        response = client.get(f"/api/v1/calendar/{wrong}.ics")
        assert response.status_code == 404, response.content
        assert response.json()["error"]["code"] == "not_found"
    # Public by design: the current token opens the owner's calendar to anyone holding it.
    response = client.get(f"/api/v1/calendar/{token}.ics")
    assert response.status_code == 200
    assert f"lesson-{world.ids['lesson_id']}@guitaronline".encode() in response.content
    assert _fingerprint() == before
