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

USER_FIELDS = {"id", "email", "role", "timezone", "is_active", "created_at", "updated_at"}
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
