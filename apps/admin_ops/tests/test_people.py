"""People (SPEC §8.1) through HTTP: the admin user list, role changes and (de)activation."""

from datetime import timedelta

import pytest
from django.db import connection
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.audit.models import AuditLog
from apps.booking.models import BookingStatus
from apps.booking.services import booking_cancel, slot_cancel
from apps.booking.tests.factories import BookingFactory, future_slot, make_confirmed, make_hold
from apps.common import clock as clock_module
from apps.identity import services as identity_services
from apps.identity.models import Role, User
from apps.identity.tests.factories import DEFAULT_PASSWORD, AdminFactory, StudentFactory, TeacherFactory
from apps.scheduling.models import SlotStatus
from apps.scheduling.tests.factories import SlotFactory
from apps.teachers.tests.factories import TeacherProfileFactory

pytestmark = pytest.mark.django_db

USERS = "/api/v1/admin/users"
ME = "/api/v1/identity/users/me"
LOGIN = "/api/v1/identity/auth/login"
REFRESH = "/api/v1/identity/auth/refresh"
USER_FIELDS = {"id", "email", "full_name", "role", "timezone", "is_active", "created_at", "updated_at"}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"

# Everything a people operation could touch; a refusal must leave all of it as it was.
FINGERPRINT_TABLES = [
    "users",
    "teacher_profiles",
    "availability_slots",
    "bookings",
    "lessons",
    "lesson_packages",
    "audit_logs",
    "outbox_events",
]


def fingerprint() -> dict:
    with connection.cursor() as cursor:
        state = {}
        for table in FINGERPRINT_TABLES:
            cursor.execute(f"SELECT count(*), max(updated_at) FROM {table}")
            state[table] = cursor.fetchone()
        cursor.execute(
            "SELECT string_agg(id::text || role || is_active::text || is_staff::text, ',' ORDER BY id) FROM users"
        )
        state["user_rows"] = cursor.fetchone()
    state["blacklisted"] = BlacklistedToken.objects.count()
    state["outstanding"] = OutstandingToken.objects.count()
    return state


def role_url(user) -> str:
    return f"{USERS}/{user.pk}/role"


def assert_refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    error = response.json()["error"]
    assert error["code"] == code
    return error


# --- GET /admin/users ----------------------------------------------------------------------------


def _created(user, *, minutes_ago: int):
    """Spread creation times so "newest first" is observable (rows made in one test share a clock tick)."""
    User.objects.filter(pk=user.pk).update(created_at=clock_module.now() - timedelta(minutes=minutes_ago))
    return user


def test_user_list_is_a_page_newest_first(admin_client, admin_user):
    _created(admin_user, minutes_ago=100)
    oldest = _created(StudentFactory(), minutes_ago=50)
    middle = _created(TeacherFactory(), minutes_ago=20)
    newest = _created(StudentFactory(), minutes_ago=1)

    response = admin_client.get(USERS)

    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["limit"], body["offset"]) == (4, 20, 0)
    assert [item["id"] for item in body["items"]] == [str(u.pk) for u in (newest, middle, oldest, admin_user)]
    assert set(body["items"][0]) == USER_FIELDS
    page = admin_client.get(USERS, {"limit": 2, "offset": 1}).json()
    assert [item["id"] for item in page["items"]] == [str(middle.pk), str(oldest.pk)]
    assert page["total"] == 4


def test_user_list_filters_by_role_and_active_flag(admin_client, admin_user):
    active_student = StudentFactory()
    sleeping_student = StudentFactory(is_active=False)
    teacher = TeacherFactory()

    def ids(**params):
        response = admin_client.get(USERS, params)
        assert response.status_code == 200
        return {item["id"] for item in response.json()["items"]}

    assert ids(role="student") == {str(active_student.pk), str(sleeping_student.pk)}
    assert ids(role="teacher") == {str(teacher.pk)}
    assert ids(role="admin") == {str(admin_user.pk)}
    assert ids(is_active="false") == {str(sleeping_student.pk)}
    assert ids(is_active="true", role="student") == {str(active_student.pk)}
    assert ids(role="", is_active="", q="") == {
        str(u.pk) for u in (active_student, sleeping_student, teacher, admin_user)
    }


def test_user_list_q_is_a_case_insensitive_substring_of_email_or_full_name(admin_client):
    by_email = StudentFactory(email="hendrix.fan@example.com", full_name="Someone Else")
    by_name = TeacherFactory(email="t1@example.com", full_name="Jimi HENDRIX")
    StudentFactory(email="other@example.com", full_name="Clapton")

    def ids(**params):
        return {item["id"] for item in admin_client.get(USERS, params).json()["items"]}

    assert ids(q="Hendrix") == {str(by_email.pk), str(by_name.pk)}
    assert ids(q="  hendrix ") == {str(by_email.pk), str(by_name.pk)}  # surrounding blanks are trimmed
    assert ids(q="IX.FA") == {str(by_email.pk)}
    assert ids(q="hendrix", role="teacher") == {str(by_name.pk)}
    assert ids(q="%") == set()  # LIKE wildcards are matched literally
    assert ids(q="_") == set()
    assert ids(q="nobody") == set()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"role": "superhero"}, "role"),
        ({"is_active": "maybe"}, "is_active"),
        ({"q": "x" * 255}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_user_list_bad_query_is_400(admin_client, params, field):
    error = assert_refused(admin_client.get(USERS, params), 400, "validation_error")
    assert field in error["details"]


def test_user_list_is_for_admins_only(api_client, student_client, teacher_client):
    assert_refused(api_client.get(USERS), 401, "not_authenticated")
    assert_refused(student_client.get(USERS), 403, "forbidden")
    assert_refused(teacher_client.get(USERS), 403, "forbidden")


@pytest.mark.parametrize("rows", [2, 20])
def test_user_list_query_count_is_constant(admin_client, django_assert_max_num_queries, rows):
    StudentFactory.create_batch(rows, full_name="Some Student")

    # The caller's user, the page; and the page's COUNT (a full page does not tell the total).
    with django_assert_max_num_queries(3):
        response = admin_client.get(USERS, {"q": "student", "limit": 10})

    assert response.status_code == 200
    assert len(response.json()["items"]) == min(rows, 10)


# --- POST /admin/users/{id}/role ------------------------------------------------------------------------


def test_admin_makes_a_student_a_teacher(admin_client, admin_user):
    student = StudentFactory()

    response = admin_client.post(role_url(student), {"role": "teacher", "is_active": False}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert (body["id"], body["role"], body["is_active"]) == (str(student.pk), "teacher", True)
    fresh = User.objects.get(pk=student.pk)
    assert (fresh.role, fresh.is_staff, fresh.is_superuser, fresh.is_active) == (Role.TEACHER, False, False, True)
    audit = AuditLog.objects.get()
    assert (audit.action, audit.actor_id, audit.entity_type, audit.entity_id) == (
        "identity.user.role.update",
        admin_user.pk,
        "user",
        student.pk,
    )
    assert audit.payload == {"role": "teacher", "previous": "student"}


def test_a_new_admin_gets_staff_and_admin_rights_at_once(admin_client, client_for):
    student = StudentFactory()
    their_client = client_for(student)  # a token issued while still a student
    assert their_client.get(USERS).status_code == 403

    assert admin_client.post(role_url(student), {"role": "admin"}, format="json").status_code == 200

    fresh = User.objects.get(pk=student.pk)
    assert (fresh.role, fresh.is_staff, fresh.is_superuser) == (Role.ADMIN, True, False)
    assert their_client.get(USERS).status_code == 200  # roles are read per request, not from the token


def test_a_former_admin_loses_staff_superuser_and_admin_rights_at_once(admin_client, client_for):
    other_admin = AdminFactory()
    their_client = client_for(other_admin)
    assert their_client.get(USERS).status_code == 200

    response = admin_client.post(role_url(other_admin), {"role": "student"}, format="json")

    assert response.status_code == 200
    fresh = User.objects.get(pk=other_admin.pk)
    assert (fresh.role, fresh.is_staff, fresh.is_superuser) == (Role.STUDENT, False, False)
    assert_refused(their_client.get(USERS), 403, "forbidden")


def test_the_same_role_is_200_and_writes_nothing(admin_client):
    teacher = TeacherFactory()
    make_confirmed(slot=future_slot(hours=30, teacher=teacher))  # the guard is about losing the role only
    before = fingerprint()

    response = admin_client.post(role_url(teacher), {"role": "teacher"}, format="json")

    assert response.status_code == 200
    assert response.json()["role"] == "teacher"
    assert fingerprint() == before


@pytest.mark.parametrize("role", ["admin", "teacher", "student"])
def test_an_admin_may_not_change_their_own_role(admin_client, admin_user, role):
    before = fingerprint()

    error = assert_refused(
        admin_client.post(role_url(admin_user), {"role": role}, format="json"), 422, "business_rule_violation"
    )

    assert error["message"] == "You cannot change your own role."
    assert fingerprint() == before


@pytest.mark.parametrize(
    "body",
    [{}, {"role": "superhero"}, {"role": None}, {"role": ["admin"]}, {"role": ""}],
)
def test_role_change_bad_body_is_400_and_changes_nothing(admin_client, body):
    student = StudentFactory()
    before = fingerprint()

    error = assert_refused(admin_client.post(role_url(student), body, format="json"), 400, "validation_error")

    assert set(error["details"]) == {"role"}
    assert fingerprint() == before


def test_role_change_of_an_unknown_user_is_404(admin_client):
    before = fingerprint()

    assert_refused(admin_client.post(f"{USERS}/{UNKNOWN_ID}/role", {"role": "admin"}, format="json"), 404, "not_found")
    assert fingerprint() == before


def test_students_and_teachers_cannot_change_roles_not_even_their_own(student, student_client, teacher, teacher_client):
    before = fingerprint()

    assert_refused(student_client.post(role_url(student), {"role": "admin"}, format="json"), 403, "forbidden")
    assert_refused(teacher_client.post(role_url(teacher), {"role": "admin"}, format="json"), 403, "forbidden")
    assert fingerprint() == before


# The teacher guard: a teacher students can still see or book keeps the role (422: disable them first).

TEACHER_STILL_TEACHING = (
    "This teacher still has upcoming bookings, holds, open slots or an approved profile; disable them first."
)
NOTHING_LEFT = {"upcoming_confirmed_bookings": 0, "holds": 0, "open_slots": 0, "profile_approved": False}


def _still_teaching(admin_client, teacher, *, to: str = "student") -> dict:
    before = fingerprint()
    error = assert_refused(
        admin_client.post(role_url(teacher), {"role": to}, format="json"), 422, "business_rule_violation"
    )
    assert error["message"] == TEACHER_STILL_TEACHING
    assert fingerprint() == before
    assert User.objects.get(pk=teacher.pk).role == Role.TEACHER
    return error["details"]


@pytest.mark.parametrize("to", ["student", "admin"])
def test_a_teacher_with_an_upcoming_confirmed_booking_keeps_the_role(admin_client, to):
    teacher = TeacherFactory()
    make_confirmed(slot=future_slot(hours=30, teacher=teacher))
    make_confirmed(slot=future_slot(hours=40, teacher=teacher))

    details = _still_teaching(admin_client, teacher, to=to)

    assert details == {**NOTHING_LEFT, "upcoming_confirmed_bookings": 2}


def test_a_teacher_with_a_live_hold_keeps_the_role(admin_client):
    """A hold is a confirmation in waiting: confirming it after the role is gone would make what the rule forbids."""
    teacher = TeacherFactory()
    make_hold(slot=future_slot(hours=30, teacher=teacher))

    assert _still_teaching(admin_client, teacher) == {**NOTHING_LEFT, "holds": 1}


def test_a_teacher_with_an_open_future_slot_keeps_the_role(admin_client):
    """Students could hold it the next moment, booking a teacher who no longer is one."""
    teacher = TeacherFactory()
    future_slot(hours=30, teacher=teacher)

    assert _still_teaching(admin_client, teacher) == {**NOTHING_LEFT, "open_slots": 1}


def test_a_teacher_with_an_approved_profile_keeps_the_role(admin_client):
    """The public teacher list would go on showing them."""
    teacher = TeacherProfileFactory(is_approved=True).user

    assert _still_teaching(admin_client, teacher) == {**NOTHING_LEFT, "profile_approved": True}


def test_a_lesson_under_way_counts_as_upcoming(admin_client, clock):
    teacher = TeacherFactory()
    booking = make_confirmed(slot=future_slot(hours=1, teacher=teacher))
    clock.advance(minutes=90)  # the slot started 30 minutes ago and ends in 30

    assert _still_teaching(admin_client, teacher) == {**NOTHING_LEFT, "upcoming_confirmed_bookings": 1}
    clock.advance(minutes=31)
    response = admin_client.post(role_url(teacher), {"role": "student"}, format="json")
    assert response.status_code == 200
    assert booking.lesson.teacher_id == teacher.pk  # history stays as it was


def test_a_stale_hold_still_counts_until_it_is_expired(admin_client, admin_user, clock):
    """Past its hold_expires_at a hold still keeps its slot, and the expiry reopens the slot for students."""
    teacher = TeacherFactory()
    make_hold(slot=future_slot(hours=30, teacher=teacher))
    clock.advance(minutes=11)

    assert _still_teaching(admin_client, teacher) == {**NOTHING_LEFT, "holds": 1}


def test_a_wound_down_teacher_loses_the_role(admin_client, admin_user, clock):
    """Past lessons, canceled slots and bookings, expired holds and an unapproved profile do not count."""
    teacher = TeacherProfileFactory(is_approved=False).user
    make_confirmed(slot=future_slot(hours=1, teacher=teacher))  # will be over
    canceled = make_confirmed(slot=future_slot(hours=60, teacher=teacher))
    booking_cancel(actor=admin_user, booking_id=canceled.pk, reason="teacher leaves")
    slot_cancel(actor=admin_user, slot_id=canceled.slot_id)
    expired = BookingFactory(slot=SlotFactory(teacher=teacher, status=SlotStatus.OPEN), status=BookingStatus.EXPIRED)
    slot_cancel(actor=admin_user, slot_id=expired.slot_id)
    SlotFactory(teacher=teacher, status=SlotStatus.CANCELED)
    clock.advance(hours=2, minutes=1)

    response = admin_client.post(role_url(teacher), {"role": "student"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["role"] == "student"
    assert AuditLog.objects.filter(action="identity.user.role.update", entity_id=teacher.pk).count() == 1


# --- POST /admin/users/{id}/deactivate and /activate -----------------------------------------------------------


def _tokens(user, count: int) -> list[str]:
    return [identity_services.token_pair_issue(user=user).refresh_token for _ in range(count)]


def test_deactivation_revokes_every_refresh_token_and_refuses_access_tokens(
    admin_client, admin_user, client_for, clock
):
    student = StudentFactory()
    their_client = client_for(student)
    live = _tokens(student, 2)
    logged_out = _tokens(student, 1)[0]
    identity_services.auth_logout(refresh_token=logged_out)
    other_user_token = _tokens(StudentFactory(), 1)[0]
    already_blacklisted = BlacklistedToken.objects.count()
    live_jtis = [RefreshToken(token)["jti"] for token in live]

    response = admin_client.post(f"{USERS}/{student.pk}/deactivate", {"is_active": True}, format="json")

    assert response.status_code == 200
    assert set(response.json()) == USER_FIELDS
    assert response.json()["is_active"] is False
    assert User.objects.get(pk=student.pk).is_active is False
    # Every refresh token the student held is revoked (the client_for one too), once, in the same transaction.
    assert BlacklistedToken.objects.filter(token__jti__in=live_jtis).count() == 2
    assert not OutstandingToken.objects.filter(user=student, blacklistedtoken__isnull=True).exists()
    assert BlacklistedToken.objects.count() == already_blacklisted + 3
    audit = AuditLog.objects.get(action="identity.user.deactivate")
    assert (audit.actor_id, audit.entity_id) == (admin_user.pk, student.pk)
    assert audit.payload == {"is_active": False, "revoked_refresh_tokens": 3}
    # Access tokens stop working at once; refresh and login are refused.
    assert_refused(their_client.get(ME), 401, "invalid_token")
    for token in live:
        assert_refused(admin_client.post(REFRESH, {"refresh_token": token}, format="json"), 401, "invalid_token")
    login = admin_client.post(LOGIN, {"email": student.email, "password": DEFAULT_PASSWORD}, format="json")
    assert_refused(login, 401, "invalid_credentials")
    # Nobody else's session is touched.
    assert admin_client.post(REFRESH, {"refresh_token": other_user_token}, format="json").status_code == 200


def test_expired_refresh_tokens_are_left_alone(admin_client):
    student = StudentFactory()
    expired, live = _tokens(student, 2)
    OutstandingToken.objects.filter(jti=RefreshToken(expired)["jti"]).update(
        expires_at=clock_module.now() - timedelta(seconds=1)
    )
    live_jti = RefreshToken(live)["jti"]

    response = admin_client.post(f"{USERS}/{student.pk}/deactivate")

    assert response.status_code == 200
    assert list(BlacklistedToken.objects.values_list("token__jti", flat=True)) == [live_jti]
    assert AuditLog.objects.get().payload["revoked_refresh_tokens"] == 1


def test_deactivating_twice_is_200_and_writes_nothing_the_second_time(admin_client):
    student = StudentFactory()
    _tokens(student, 1)
    assert admin_client.post(f"{USERS}/{student.pk}/deactivate").status_code == 200
    before = fingerprint()

    response = admin_client.post(f"{USERS}/{student.pk}/deactivate")

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert fingerprint() == before


def test_reactivation_restores_login_but_no_old_session(admin_client, admin_user, api_client):
    student = StudentFactory()
    old = _tokens(student, 1)[0]
    admin_client.post(f"{USERS}/{student.pk}/deactivate")

    response = admin_client.post(f"{USERS}/{student.pk}/activate")

    assert response.status_code == 200
    assert response.json()["is_active"] is True
    assert User.objects.get(pk=student.pk).is_active is True
    audit = AuditLog.objects.get(action="identity.user.activate")
    assert (audit.actor_id, audit.entity_id, audit.payload) == (admin_user.pk, student.pk, {"is_active": True})
    assert_refused(api_client.post(REFRESH, {"refresh_token": old}, format="json"), 401, "invalid_token")
    login = api_client.post(LOGIN, {"email": student.email, "password": DEFAULT_PASSWORD}, format="json")
    assert login.status_code == 200


def test_activating_an_active_user_is_200_and_writes_nothing(admin_client):
    student = StudentFactory()
    before = fingerprint()

    response = admin_client.post(f"{USERS}/{student.pk}/activate")

    assert response.status_code == 200
    assert response.json()["is_active"] is True
    assert fingerprint() == before


@pytest.mark.parametrize("verb", ["deactivate", "activate"])
def test_not_on_yourself(admin_client, admin_user, verb):
    _tokens(admin_user, 1)
    before = fingerprint()

    error = assert_refused(admin_client.post(f"{USERS}/{admin_user.pk}/{verb}"), 422, "business_rule_violation")

    assert error["message"] == f"You cannot {verb} yourself."
    assert fingerprint() == before
    assert admin_client.get(ME).status_code == 200


@pytest.mark.parametrize("verb", ["deactivate", "activate"])
def test_unknown_user_is_404(admin_client, verb):
    before = fingerprint()

    assert_refused(admin_client.post(f"{USERS}/{UNKNOWN_ID}/{verb}"), 404, "not_found")
    assert fingerprint() == before


@pytest.mark.parametrize("verb", ["deactivate", "activate"])
def test_students_and_teachers_cannot_deactivate_anyone(student, student_client, teacher_client, verb):
    before = fingerprint()

    assert_refused(student_client.post(f"{USERS}/{student.pk}/{verb}"), 403, "forbidden")
    assert_refused(teacher_client.post(f"{USERS}/{student.pk}/{verb}"), 403, "forbidden")
    assert fingerprint() == before


def test_one_admin_deactivates_another(admin_client, client_for):
    other_admin = AdminFactory()
    their_client = client_for(other_admin)

    assert admin_client.post(f"{USERS}/{other_admin.pk}/deactivate").status_code == 200
    assert_refused(their_client.get(USERS), 401, "invalid_token")
