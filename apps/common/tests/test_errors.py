"""Every error source answers with the SPEC envelope (SPEC §2)."""

import datetime as dt

import pytest
from django.test import Client
from rest_framework import serializers
from rest_framework.test import APIClient

from apps.common.fields import OffsetDateTimeField
from apps.common.tests.urls_for_tests import SECRET_TEXT
from apps.identity.models import User

TEST_URLS = "apps.common.tests.urls_for_tests"
ME = "/api/v1/identity/users/me"
LOGIN = "/api/v1/identity/auth/login"

pytestmark = pytest.mark.django_db


def assert_envelope(response, status_code: int, code: str) -> dict:
    assert response.status_code == status_code, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


def assert_no_leak(response) -> None:
    text = response.content.decode()
    for leak in ("Traceback", "hunter2", "SELECT", "no_such_table", 'File "', "SECRET_KEY"):
        assert leak not in text


# --- request-level errors on real endpoints ---------------------------------------------------


def test_malformed_json_body_is_400_validation_error(api_client):
    response = api_client.generic("POST", LOGIN, '{"email": ', content_type="application/json")

    error = assert_envelope(response, 400, "validation_error")
    assert "body" in error["details"]


def test_missing_fields_are_400_with_field_details(api_client):
    error = assert_envelope(api_client.post(LOGIN, {}), 400, "validation_error")

    assert error["details"] == {"email": ["This field is required."], "password": ["This field is required."]}


def test_unsupported_media_type(api_client):
    response = api_client.post(LOGIN, "email=a&password=b", content_type="application/x-www-form-urlencoded")

    assert_envelope(response, 415, "unsupported_media_type")


def test_missing_token_is_401_not_authenticated(api_client):
    response = api_client.get(ME)

    assert_envelope(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer a.b.c", "Bearer one two"])
def test_bad_token_is_401_invalid_token(api_client, header):
    api_client.credentials(HTTP_AUTHORIZATION=header)

    assert_envelope(api_client.get(ME), 401, "invalid_token")


def test_non_bearer_scheme_is_not_authenticated(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz")

    assert_envelope(api_client.get(ME), 401, "not_authenticated")


def test_method_not_allowed_is_405_envelope(api_client, student_client):
    assert_envelope(api_client.get(LOGIN), 405, "method_not_allowed")
    assert_envelope(student_client.delete(ME), 405, "method_not_allowed")


@pytest.mark.parametrize(
    "path",
    ["/api/v1/no-such-area", "/api/v1/identity/no-such-thing", "/no-such-page", "/api/v2/identity/users/me"],
)
def test_unknown_url_is_404_json_without_redirect(api_client, path):
    response = api_client.get(path)

    assert_envelope(response, 404, "not_found")


def test_written_path_never_redirects_and_trailing_slash_variant_is_not_a_redirect(student_client):
    assert student_client.get(ME).status_code == 200
    response = student_client.get(ME + "/")
    assert response.status_code == 404
    assert "Location" not in response


def test_unknown_url_with_post_is_404_json(api_client):
    assert_envelope(api_client.post("/api/v1/nowhere", {"a": 1}), 404, "not_found")


# --- errors raised inside views ---------------------------------------------------------------


@pytest.mark.urls(TEST_URLS)
def test_forbidden_role_is_403(student_client, admin_client):
    assert_envelope(student_client.get("/test-only/admin-only"), 403, "forbidden")
    assert admin_client.get("/test-only/admin-only").json() == {"ok": True}


@pytest.mark.urls(TEST_URLS)
@pytest.mark.parametrize(
    ("name", "status_code", "code"),
    [
        ("runtime", 500, "internal_error"),
        ("integrity", 409, "conflict"),
        ("http404", 404, "not_found"),
        ("django_permission_denied", 403, "forbidden"),
        ("django_validation", 400, "validation_error"),
        ("drf_validation", 400, "validation_error"),
        ("drf_throttled", 429, "rate_limited"),
        ("ratelimited", 429, "rate_limited"),
        ("domain_invalid", 400, "validation_error"),
        ("domain_not_found", 404, "not_found"),
        ("domain_forbidden", 403, "forbidden"),
        ("domain_conflict", 409, "conflict"),
        ("domain_rule", 422, "business_rule_violation"),
        ("domain_rate_limited", 429, "rate_limited"),
    ],
)
def test_drf_view_errors_map_to_the_envelope(name, status_code, code):
    client = APIClient()
    client.raise_request_exception = False

    response = client.get(f"/test-only/raise/{name}")

    error = assert_envelope(response, status_code, code)
    assert_no_leak(response)
    if status_code == 429:
        assert int(response["Retry-After"]) >= 1
    if name == "domain_rate_limited":
        assert response["Retry-After"] == "12"
    if name in ("django_validation", "drf_validation"):
        assert error["details"] == {"field": ["Bad value."]}
    if name == "domain_invalid":
        assert error["details"] == {"x": ["bad"]} and error["message"] == "Nope."


@pytest.mark.urls(TEST_URLS)
@pytest.mark.parametrize(
    ("name", "status_code", "code"),
    [
        ("runtime", 500, "internal_error"),
        ("http404", 404, "not_found"),
        ("django_permission_denied", 403, "forbidden"),
        ("integrity", 409, "conflict"),
        ("ratelimited", 429, "rate_limited"),
        ("domain_rule", 422, "business_rule_violation"),
    ],
)
def test_plain_django_view_errors_map_to_the_envelope(name, status_code, code):
    client = Client()
    client.raise_request_exception = False

    response = client.get(f"/test-only/plain-raise/{name}")

    assert_envelope(response, status_code, code)
    assert_no_leak(response)


@pytest.mark.urls(TEST_URLS)
def test_database_error_is_500_without_sql():
    client = APIClient()
    client.raise_request_exception = False

    response = client.get("/test-only/bad-sql")

    assert_envelope(response, 500, "internal_error")
    assert_no_leak(response)


@pytest.mark.urls(TEST_URLS)
def test_unhandled_error_body_is_exactly_the_generic_message():
    client = APIClient()
    client.raise_request_exception = False

    response = client.get("/test-only/raise/runtime")

    assert response.json() == {"error": {"code": "internal_error", "message": "Internal server error.", "details": {}}}
    assert SECRET_TEXT not in response.content.decode()


# --- datetimes with offsets -----------------------------------------------------------------------


class WhenSerializer(serializers.Serializer):
    at = OffsetDateTimeField()


@pytest.mark.parametrize("value", ["2026-12-01T10:00:00", "2026-12-01 10:00", dt.datetime(2026, 12, 1, 10)])
def test_offset_datetime_field_rejects_naive(value):
    serializer = WhenSerializer(data={"at": value})

    assert not serializer.is_valid()
    assert serializer.errors["at"] == ["Datetime must include a UTC offset, e.g. 2026-12-01T10:00:00Z."]


@pytest.mark.parametrize("value", ["tomorrow", "2026-12-01", "2026-13-01T10:00:00Z", 17, None, ""])
def test_offset_datetime_field_rejects_garbage(value):
    serializer = WhenSerializer(data={"at": value})

    assert not serializer.is_valid()
    assert "at" in serializer.errors


@pytest.mark.parametrize(
    "value", ["2026-12-01T12:00:00+02:00", "2026-12-01T10:00:00Z", "2026-12-01T05:00:00.000-05:00"]
)
def test_offset_datetime_field_converts_to_utc(value):
    serializer = WhenSerializer(data={"at": value})

    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["at"] == dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    assert serializer.validated_data["at"].utcoffset() == dt.timedelta(0)


@pytest.mark.urls(TEST_URLS)
def test_naive_datetime_over_http_is_400_envelope(api_client):
    error = assert_envelope(api_client.post("/test-only/when", {"at": "2026-12-01T10:00:00"}), 400, "validation_error")
    assert "at" in error["details"]

    response = api_client.post("/test-only/when", {"at": "2026-12-01T12:00:00+02:00"})
    assert response.status_code == 200
    assert response.json() == {"at": "2026-12-01T10:00:00Z"}


# --- pagination bounds -----------------------------------------------------------------------------


@pytest.fixture
def users_page_data():
    return User.objects.bulk_create([User(email=f"page{n:02d}@example.com") for n in range(25)])


@pytest.mark.urls(TEST_URLS)
def test_page_defaults_and_shape(api_client, users_page_data):
    response = api_client.get("/test-only/users")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "limit", "offset"}
    assert body["total"] == 25 and body["limit"] == 20 and body["offset"] == 0
    assert len(body["items"]) == 20
    assert body["items"][0]["email"] == "page00@example.com"


@pytest.mark.urls(TEST_URLS)
def test_page_limit_offset_window(api_client, users_page_data):
    body = api_client.get("/test-only/users", {"limit": 10, "offset": 20}).json()

    assert [item["email"] for item in body["items"]] == [f"page{n}@example.com" for n in range(20, 25)]
    assert (body["total"], body["limit"], body["offset"]) == (25, 10, 20)
    beyond = api_client.get("/test-only/users", {"offset": 500}).json()
    assert beyond["items"] == [] and beyond["total"] == 25
    assert len(api_client.get("/test-only/users", {"limit": 100}).json()["items"]) == 25
    assert len(api_client.get("/test-only/users", {"limit": 1}).json()["items"]) == 1


@pytest.mark.urls(TEST_URLS)
@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 101}, {"limit": -1}, {"limit": "abc"}, {"offset": -1}, {"offset": "x"}, {"limit": "1.5"}],
)
def test_page_bounds_are_400(api_client, params):
    error = assert_envelope(api_client.get("/test-only/users", params), 400, "validation_error")

    assert set(error["details"]) == set(params)


@pytest.mark.urls(TEST_URLS)
def test_page_query_count_is_independent_of_page_size(api_client, users_page_data, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        api_client.get("/test-only/users", {"limit": 100})


def test_disallowed_host_is_400_envelope():
    client = Client(HTTP_HOST="evil.example.net")
    client.raise_request_exception = False

    assert_envelope(client.get("/api/v1/identity/users/me"), 400, "validation_error")


@pytest.mark.django_db(transaction=True)
def test_a_lost_lock_wait_is_a_409_with_retry_after_and_changes_nothing(student, student_client):
    """A row another transaction holds longer than lock_timeout: 409 conflict, never a hang or a 500."""
    import threading

    from django.db import connection, connections, transaction

    from apps.billing.tests.factories import PackageFactory
    from apps.booking.models import Booking
    from apps.booking.tests.factories import future_slot
    from apps.scheduling.models import AvailabilitySlot

    if connection.vendor != "postgresql":
        pytest.skip("lock_timeout is PostgreSQL's")
    package = PackageFactory(student=student)
    slot = future_slot(hours=48)
    locked, release = threading.Event(), threading.Event()

    def hold_the_slot_row():
        with transaction.atomic():
            AvailabilitySlot.objects.select_for_update().get(pk=slot.pk)
            locked.set()
            release.wait(timeout=30)
        connections.close_all()

    holder = threading.Thread(target=hold_the_slot_row)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")  # this connection only, instead of the 5 s default
        response = student_client.post(
            "/api/v1/booking/hold", {"slot_id": str(slot.pk), "package_id": str(package.pk)}, format="json"
        )
    finally:
        release.set()
        holder.join(timeout=30)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")
    error = assert_envelope(response, 409, "conflict")
    assert error["message"] == "The resource is busy; retry shortly."
    assert response["Retry-After"] == "1"
    assert not Booking.objects.exists()


def test_every_postgresql_connection_opens_with_the_lock_timeout(settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    assert f"lock_timeout={settings.DB_LOCK_TIMEOUT_MS}" in connection.settings_dict["OPTIONS"]["options"]
