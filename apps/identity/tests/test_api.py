"""Identity endpoints through HTTP (SPEC §3, Identity)."""

from datetime import timedelta

import pytest
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apps.audit.models import AuditLog
from apps.identity.models import User
from apps.identity.tests.factories import DEFAULT_PASSWORD, StudentFactory

REGISTER = "/api/v1/identity/auth/register"
LOGIN = "/api/v1/identity/auth/login"
REFRESH = "/api/v1/identity/auth/refresh"
LOGOUT = "/api/v1/identity/auth/logout"
ME = "/api/v1/identity/users/me"

USER_FIELDS = {"id", "email", "full_name", "role", "timezone", "is_active", "created_at", "updated_at"}
INVALID_CREDENTIALS = {"error": {"code": "invalid_credentials", "message": "Invalid email or password.", "details": {}}}
INVALID_TOKEN = {"error": {"code": "invalid_token", "message": "Token is invalid, expired or revoked.", "details": {}}}

pytestmark = pytest.mark.django_db


def first_sub(pair):
    return AccessToken(pair["access_token"])["sub"]


def _login(api_client, email, password=DEFAULT_PASSWORD):
    return api_client.post(LOGIN, {"email": email, "password": password})


# --- register -------------------------------------------------------------------------


def test_register_creates_student_with_defaults(api_client):
    response = api_client.post(REGISTER, {"email": "New.Player@Example.COM", "password": DEFAULT_PASSWORD})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["email"] == "new.player@example.com"
    assert body["role"] == "student"
    assert body["timezone"] == "UTC"
    assert body["is_active"] is True
    assert body["full_name"] == ""
    assert body["created_at"].endswith("Z")
    user = User.objects.get(pk=body["id"])
    assert user.email == "new.player@example.com"
    assert user.check_password(DEFAULT_PASSWORD)
    assert user.is_staff is False and user.is_superuser is False
    assert AuditLog.objects.filter(action="identity.user.register", entity_id=user.pk).count() == 1


def test_register_teacher_with_timezone_ignores_unknown_and_read_only_fields(api_client):
    response = api_client.post(
        REGISTER,
        {
            "email": "t@example.com",
            "password": DEFAULT_PASSWORD,
            "role": "teacher",
            "timezone": "Europe/Berlin",
            "is_active": False,
            "is_staff": True,
            "nickname": "shred",
        },
    )

    assert response.status_code == 201
    assert response.json()["role"] == "teacher"
    assert response.json()["timezone"] == "Europe/Berlin"
    user = User.objects.get(email="t@example.com")
    assert user.is_active is True and user.is_staff is False


def test_register_admin_role_is_refused(api_client):
    response = api_client.post(REGISTER, {"email": "a@example.com", "password": DEFAULT_PASSWORD, "role": "admin"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert "role" in response.json()["error"]["details"]
    assert not User.objects.exists()


def test_register_duplicate_email_case_insensitive_is_conflict(api_client):
    StudentFactory(email="taken@example.com")

    response = api_client.post(REGISTER, {"email": "TAKEN@example.com", "password": DEFAULT_PASSWORD})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert User.objects.filter(email__iexact="taken@example.com").count() == 1
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    ("password", "fragment"),
    [("short1!", "too short"), ("password123", "too common"), ("1234567890123", "entirely numeric")],
)
def test_register_weak_password_is_400_with_details_under_password(api_client, password, fragment):
    response = api_client.post(REGISTER, {"email": "weak@example.com", "password": password})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert any(fragment in message for message in error["details"]["password"])
    assert not User.objects.exists()


def test_register_password_similar_to_email_is_refused(api_client):
    response = api_client.post(REGISTER, {"email": "stratocaster@example.com", "password": "stratocaster"})

    assert response.status_code == 400
    assert any("too similar" in m for m in response.json()["error"]["details"]["password"])


@pytest.mark.parametrize("timezone", ["Mars/Olympus", "", "utc+2"])
def test_register_non_iana_timezone_is_400(api_client, timezone):
    response = api_client.post(
        REGISTER, {"email": "tz@example.com", "password": DEFAULT_PASSWORD, "timezone": timezone}
    )

    assert response.status_code == 400
    assert "timezone" in response.json()["error"]["details"]
    assert not User.objects.exists()


def test_register_missing_and_invalid_fields(api_client):
    response = api_client.post(REGISTER, {"email": "not-an-email"})

    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert set(details) == {"email", "password"}


def test_register_takes_an_optional_full_name(api_client):
    response = api_client.post(
        REGISTER, {"email": "ana@example.com", "password": DEFAULT_PASSWORD, "full_name": "  Ana de la Guitarra  "}
    )

    assert response.status_code == 201
    assert response.json()["full_name"] == "Ana de la Guitarra"
    assert User.objects.get(email="ana@example.com").full_name == "Ana de la Guitarra"


@pytest.mark.parametrize("full_name", ["x" * 201, 42, None, ["Ana"], "Ana\x00"])
def test_register_bad_full_name_is_400_and_creates_nothing(api_client, full_name):
    response = api_client.post(
        REGISTER, {"email": "ana@example.com", "password": DEFAULT_PASSWORD, "full_name": full_name}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == {"full_name"}
    assert not User.objects.exists()
    assert not AuditLog.objects.exists()


# --- login ----------------------------------------------------------------------------


def test_login_returns_token_pair_and_email_is_case_insensitive(api_client):
    user = StudentFactory(email="lower@example.com")

    response = _login(api_client, "  LOWER@Example.com ")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "refresh_token", "token_type"}
    assert body["token_type"] == "bearer"
    assert AccessToken(body["access_token"])["sub"] == str(user.pk)
    refresh = RefreshToken(body["refresh_token"])
    assert OutstandingToken.objects.filter(jti=refresh["jti"], user=user).exists()


def test_login_failures_are_indistinguishable(api_client):
    StudentFactory(email="known@example.com")
    StudentFactory(email="sleeping@example.com", is_active=False)

    wrong_email = _login(api_client, "nobody@example.com")
    wrong_password = _login(api_client, "known@example.com", "Wrong-Password-1!")
    inactive = _login(api_client, "sleeping@example.com")

    for response in (wrong_email, wrong_password, inactive):
        assert response.status_code == 401
        assert response.json() == INVALID_CREDENTIALS
    assert not OutstandingToken.objects.exists()


def test_login_unknown_email_still_runs_the_password_hasher(api_client, monkeypatch):
    calls = []
    original = User.set_password

    def spy(self, raw):
        calls.append(raw)
        return original(self, raw)

    monkeypatch.setattr(User, "set_password", spy)

    response = _login(api_client, "ghost@example.com", "Some-Password-1!")

    assert response.status_code == 401
    assert calls == ["Some-Password-1!"]


def test_login_ignores_a_stale_authorization_header(api_client):
    StudentFactory(email="stale@example.com")
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")

    assert _login(api_client, "stale@example.com").status_code == 200


# --- me ---------------------------------------------------------------------------------


def test_me_returns_the_caller(student, student_client):
    response = student_client.get(ME)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert body["id"] == str(student.pk)
    assert body["email"] == student.email
    assert body["role"] == "student"


def test_me_with_login_access_token(api_client):
    StudentFactory(email="me@example.com")
    access = _login(api_client, "me@example.com").json()["access_token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")

    assert api_client.get(ME).json()["email"] == "me@example.com"


def test_me_without_token_is_401_not_authenticated(api_client):
    response = api_client.get(ME)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_me_with_refresh_token_as_access_is_401(api_client, student):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(student)}")

    response = api_client.get(ME)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_deactivated_users_access_token_stops_working(student, student_client):
    assert student_client.get(ME).status_code == 200
    student.is_active = False
    student.save(update_fields=["is_active"])

    response = student_client.get(ME)

    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN


def test_deleted_users_access_token_stops_working(student, student_client):
    student.delete()

    response = student_client.get(ME)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


def test_expired_access_token_is_401(api_client, student):
    token = AccessToken.for_user(student)
    token.set_exp(lifetime=-timedelta(seconds=1))
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    response = api_client.get(ME)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"


# --- refresh ------------------------------------------------------------------------------


def test_refresh_rotates_and_revokes_the_used_token(api_client):
    StudentFactory(email="rot@example.com")
    first = _login(api_client, "rot@example.com").json()

    response = api_client.post(REFRESH, {"refresh_token": first["refresh_token"]})

    assert response.status_code == 200
    second = response.json()
    assert second["token_type"] == "bearer"
    assert second["refresh_token"] != first["refresh_token"]
    assert RefreshToken(second["refresh_token"])["sub"] == first_sub(first)
    assert BlacklistedToken.objects.filter(token__token=first["refresh_token"]).exists()

    again = api_client.post(REFRESH, {"refresh_token": first["refresh_token"]})
    assert again.status_code == 401
    assert again.json() == INVALID_TOKEN

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {second['access_token']}")
    assert api_client.get(ME).status_code == 200


def test_refresh_with_access_token_is_401(api_client, student):
    access = str(RefreshToken.for_user(student).access_token)

    response = api_client.post(REFRESH, {"refresh_token": access})

    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN
    assert not BlacklistedToken.objects.exists()


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
def test_refresh_with_malformed_token(api_client, token):
    response = api_client.post(REFRESH, {"refresh_token": token})

    assert response.status_code == (400 if token == "" else 401)


def test_refresh_with_expired_token_is_401(api_client, student):
    token = RefreshToken.for_user(student)
    token.set_exp(lifetime=-timedelta(seconds=1))

    response = api_client.post(REFRESH, {"refresh_token": str(token)})

    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN


def test_refresh_past_recorded_expiry_by_the_clock_is_401(api_client, student, clock):
    token = str(RefreshToken.for_user(student))
    clock.advance(days=31)

    response = api_client.post(REFRESH, {"refresh_token": token})

    assert response.status_code == 401
    assert not BlacklistedToken.objects.exists()


def test_refresh_for_deactivated_user_is_401(api_client, student):
    token = str(RefreshToken.for_user(student))
    student.is_active = False
    student.save(update_fields=["is_active"])

    response = api_client.post(REFRESH, {"refresh_token": token})

    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN
    assert not BlacklistedToken.objects.exists()
    assert OutstandingToken.objects.count() == 1


def test_refresh_for_deleted_user_is_401(api_client, student):
    token = str(RefreshToken.for_user(student))
    student.delete()

    response = api_client.post(REFRESH, {"refresh_token": token})

    assert response.status_code == 401


def test_refresh_token_not_issued_here_is_401(api_client, student):
    # Correctly signed but never recorded as outstanding (e.g. minted elsewhere with a leaked key).
    token = RefreshToken()
    token["sub"] = str(student.pk)

    response = api_client.post(REFRESH, {"refresh_token": str(token)})

    assert response.status_code == 401
    assert not OutstandingToken.objects.exists()


def test_refresh_token_signed_with_another_key_is_401(api_client, student):
    import jwt

    token = RefreshToken.for_user(student)
    forged = jwt.encode(token.payload, "another-secret", algorithm="HS256")

    response = api_client.post(REFRESH, {"refresh_token": forged})

    assert response.status_code == 401
    assert not BlacklistedToken.objects.exists()


# --- logout ----------------------------------------------------------------------------------


def test_logout_revokes_the_refresh_token_without_access_token(api_client):
    StudentFactory(email="bye@example.com")
    pair = _login(api_client, "bye@example.com").json()

    response = api_client.post(LOGOUT, {"refresh_token": pair["refresh_token"]})

    assert response.status_code == 204
    assert response.content == b""
    assert BlacklistedToken.objects.filter(token__token=pair["refresh_token"]).count() == 1
    refused = api_client.post(REFRESH, {"refresh_token": pair["refresh_token"]})
    assert refused.status_code == 401


def test_logout_twice_is_401(api_client, student):
    token = str(RefreshToken.for_user(student))
    assert api_client.post(LOGOUT, {"refresh_token": token}).status_code == 204

    response = api_client.post(LOGOUT, {"refresh_token": token})

    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN
    assert BlacklistedToken.objects.count() == 1


@pytest.mark.parametrize("kind", ["garbage", "access"])
def test_logout_with_bad_token_is_401(api_client, student, kind):
    token = "garbage" if kind == "garbage" else str(RefreshToken.for_user(student).access_token)

    response = api_client.post(LOGOUT, {"refresh_token": token})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_token"
    assert not BlacklistedToken.objects.exists()


def test_logout_missing_field_is_400(api_client):
    response = api_client.post(LOGOUT, {})

    assert response.status_code == 400
    assert "refresh_token" in response.json()["error"]["details"]


# --- PATCH /users/me (SPEC §8.1) -------------------------------------------------------------


def _user_row(user) -> dict:
    fresh = User.objects.get(pk=user.pk)
    return {field.attname: getattr(fresh, field.attname) for field in fresh._meta.concrete_fields}


def test_update_me_changes_full_name_and_timezone_with_one_audit_row(student, student_client):
    before = _user_row(student)

    response = student_client.patch(ME, {"full_name": "  Jimi H.  ", "timezone": "Europe/Berlin"}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == USER_FIELDS
    assert (body["full_name"], body["timezone"]) == ("Jimi H.", "Europe/Berlin")
    after = _user_row(student)
    assert (after["full_name"], after["timezone"]) == ("Jimi H.", "Europe/Berlin")
    assert after["updated_at"] > before["updated_at"]
    audit = AuditLog.objects.get()
    assert (audit.action, audit.actor_id, audit.entity_type, audit.entity_id) == (
        "identity.user.update",
        student.pk,
        "user",
        student.pk,
    )
    assert audit.payload == {
        "changed": {"full_name": "Jimi H.", "timezone": "Europe/Berlin"},
        "previous": {"full_name": "", "timezone": "UTC"},
    }


def test_update_me_is_partial_and_audits_only_what_changed(client_for):
    user = StudentFactory(full_name="Old Name", timezone="Asia/Tokyo")

    response = client_for(user).patch(ME, {"timezone": "America/Sao_Paulo"}, format="json")

    assert response.status_code == 200
    assert (response.json()["full_name"], response.json()["timezone"]) == ("Old Name", "America/Sao_Paulo")
    assert AuditLog.objects.get().payload == {
        "changed": {"timezone": "America/Sao_Paulo"},
        "previous": {"timezone": "Asia/Tokyo"},
    }


def test_update_me_can_clear_the_full_name(client_for):
    user = StudentFactory(full_name="Someone")

    response = client_for(user).patch(ME, {"full_name": ""}, format="json")

    assert response.status_code == 200
    assert User.objects.get(pk=user.pk).full_name == ""


def test_update_me_with_current_values_or_nothing_writes_nothing(client_for):
    user = StudentFactory(full_name="Same", timezone="UTC")
    client = client_for(user)
    before = _user_row(user)

    for body in ({"full_name": "Same", "timezone": "UTC"}, {}):
        response = client.patch(ME, body, format="json")
        assert response.status_code == 200
        assert response.json()["full_name"] == "Same"

    assert _user_row(user) == before
    assert not AuditLog.objects.exists()


def test_update_me_ignores_every_other_field(student, student_client):
    before = _user_row(student)

    response = student_client.patch(
        ME,
        {
            "role": "admin",
            "email": "hijack@example.com",
            "is_active": False,
            "is_staff": True,
            "id": "00000000-0000-4000-8000-000000000000",
            "password": "x",
            "nickname": "shred",
        },
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["role"] == "student"
    assert _user_row(student) == before
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": 3}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"full_name": "x" * 201, "timezone": "Europe/Berlin"}, "full_name"),
        ({"full_name": None}, "full_name"),
        ({"full_name": 7}, "full_name"),
        ({"full_name": "Ana\x00"}, "full_name"),
    ],
)
def test_update_me_bad_input_is_400_and_changes_nothing(student, student_client, body, field):
    before = _user_row(student)

    response = student_client.patch(ME, body, format="json")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]) == {field}
    assert _user_row(student) == before
    assert not AuditLog.objects.exists()


def test_update_me_malformed_json_is_400(student_client):
    response = student_client.generic("PATCH", ME, "{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_update_me_needs_a_live_token(api_client, student, student_client):
    assert api_client.patch(ME, {"full_name": "Anon"}, format="json").status_code == 401
    User.objects.filter(pk=student.pk).update(is_active=False)

    response = student_client.patch(ME, {"full_name": "Ghost"}, format="json")

    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN
    assert User.objects.get(pk=student.pk).full_name == ""


def test_every_role_updates_only_itself(client_for, student, teacher, admin_user):
    for user in (student, teacher, admin_user):
        response = client_for(user).patch(ME, {"full_name": f"Name of {user.role}"}, format="json")
        assert response.status_code == 200
        assert response.json()["id"] == str(user.pk)

    assert dict(User.objects.values_list("role", "full_name")) == {
        "student": "Name of student",
        "teacher": "Name of teacher",
        "admin": "Name of admin",
    }
