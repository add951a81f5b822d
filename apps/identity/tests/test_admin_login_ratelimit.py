"""The Django admin's staff login under the API's per-IP login limit (SPEC §8.6), over HTTP.

Every request goes through Django's test Client with CSRF checks on, the way a
browser (or an attacker's script) does: GET the form, POST the credentials with
the token from the page's cookie.
"""

import re

import django_ratelimit.core
import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.identity.tests.factories import DEFAULT_PASSWORD, AdminFactory
from apps.identity.tests.test_ratelimits import FrozenTime

ADMIN_LOGIN = "/admin/login/"
API_LOGIN = "/api/v1/identity/auth/login"
STAFF_EMAIL = "staff@example.com"
LIMIT_MESSAGE = "Too many login attempts from your address"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def frozen_ratelimit_time(monkeypatch):
    """Fixed-bucket windows: a test straddling a boundary would flake, so time stands still."""
    frozen = FrozenTime(1_800_000_000.0)
    monkeypatch.setattr(django_ratelimit.core, "time", frozen)
    return frozen


@pytest.fixture
def staff(db):
    return AdminFactory(email=STAFF_EMAIL)


def browser(**extra) -> Client:
    return Client(enforce_csrf_checks=True, **extra)


def admin_login(client: Client, password: str, *, email: str = STAFF_EMAIL):
    """GET the login page (for the CSRF cookie), then POST the form as a browser would."""
    page = client.get(ADMIN_LOGIN, {"next": "/admin/"})
    assert page.status_code == 200
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else client.cookies["csrftoken"].value
    return client.post(
        f"{ADMIN_LOGIN}?next=/admin/",
        {"username": email, "password": password, "csrfmiddlewaretoken": token, "next": "/admin/"},
    )


def api_login(client: APIClient, password: str, *, email: str = STAFF_EMAIL):
    return client.post(API_LOGIN, {"email": email, "password": password}, format="json")


def assert_refused_page(response, client: Client):
    """Django's own login page (HTML, the form), status 429, the reason on it, and no session."""
    assert response.status_code == 429
    assert response["Content-Type"].startswith("text/html")
    assert 1 <= int(response["Retry-After"]) <= 61
    html = response.content.decode()
    assert 'id="login-form"' in html and 'name="password"' in html
    assert LIMIT_MESSAGE in html
    assert re.search(r"try again in \d+ seconds?\.", html)
    assert '"error"' not in html  # not the JSON envelope
    assert "_auth_user_id" not in client.session
    still_out = client.get("/admin/")
    assert still_out.status_code == 302 and still_out["Location"].startswith(ADMIN_LOGIN)


def assert_api_refused(response):
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"


def test_right_password_logs_in_within_the_limit(staff):
    client = browser()
    for _ in range(9):
        assert admin_login(client, "wrong").status_code == 200  # the form again, with Django's error

    response = admin_login(client, DEFAULT_PASSWORD)

    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_past_the_limit_the_right_password_opens_no_session(staff):
    client = browser()
    for _ in range(10):
        wrong = admin_login(client, "wrong")
        assert wrong.status_code == 200 and LIMIT_MESSAGE not in wrong.content.decode()

    response = admin_login(client, DEFAULT_PASSWORD)

    assert_refused_page(response, client)
    assert "sessionid" not in response.cookies


def test_the_page_itself_is_not_counted(staff):
    client = browser()
    for _ in range(30):
        assert client.get(ADMIN_LOGIN).status_code == 200

    assert admin_login(client, DEFAULT_PASSWORD).status_code == 302


def test_api_guesses_use_up_the_admin_budget(staff):
    for _ in range(10):
        assert api_login(APIClient(), "wrong").status_code == 401

    client = browser()
    assert_refused_page(admin_login(client, DEFAULT_PASSWORD), client)


def test_admin_guesses_use_up_the_api_budget(staff):
    client = browser()
    for _ in range(10):
        assert admin_login(client, "wrong").status_code == 200

    assert_api_refused(api_login(APIClient(), DEFAULT_PASSWORD))


def test_one_counter_for_both_doors_five_and_five(staff):
    """5 API guesses + 5 admin guesses spend the 10: the 11th is refused at either door."""
    client = browser()
    for _ in range(5):
        assert api_login(APIClient(), "wrong").status_code == 401
        assert admin_login(client, "wrong").status_code == 200

    assert_refused_page(admin_login(client, DEFAULT_PASSWORD), client)
    assert_api_refused(api_login(APIClient(), DEFAULT_PASSWORD))


def test_the_budget_returns_when_the_window_ends(staff, frozen_ratelimit_time):
    client = browser()
    for _ in range(10):
        admin_login(client, "wrong")
    refused = admin_login(client, DEFAULT_PASSWORD)
    assert_refused_page(refused, client)

    frozen_ratelimit_time.now += int(refused["Retry-After"]) - 1
    assert admin_login(client, DEFAULT_PASSWORD).status_code == 429

    frozen_ratelimit_time.now += 1
    assert admin_login(client, DEFAULT_PASSWORD).status_code == 302


def test_forged_forwarded_for_from_an_untrusted_peer_buys_no_new_guesses(staff, settings):
    settings.TRUSTED_PROXY_IPS = []
    client = browser(REMOTE_ADDR="203.0.113.9")
    for n in range(10):
        client.defaults["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{n}"
        assert admin_login(client, "wrong").status_code == 200

    client.defaults["HTTP_X_FORWARDED_FOR"] = "198.51.100.200"
    assert_refused_page(admin_login(client, DEFAULT_PASSWORD), client)


def test_behind_a_trusted_proxy_each_client_has_its_own_budget(staff, settings):
    settings.TRUSTED_PROXY_IPS = ["10.0.0.0/8"]
    attacker = browser(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.1")
    for _ in range(10):
        admin_login(attacker, "wrong")
    assert_refused_page(admin_login(attacker, DEFAULT_PASSWORD), attacker)

    colleague = browser(REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="198.51.100.2")
    assert admin_login(colleague, DEFAULT_PASSWORD).status_code == 302


def test_dead_cache_refuses_the_staff_login_too(staff, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6390/0"}
    }
    client = browser()

    response = admin_login(client, DEFAULT_PASSWORD)

    assert response.status_code == 429
    assert LIMIT_MESSAGE in response.content.decode()
    assert "_auth_user_id" not in client.session
