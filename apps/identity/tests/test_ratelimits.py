"""Per-IP auth rate limits (SPEC §3, Identity: rate limits)."""

import django_ratelimit.core
import pytest
from django.core.cache import caches
from django.test import RequestFactory
from rest_framework.test import APIClient

from apps.identity.models import User
from apps.identity.ratelimits import client_ip
from apps.identity.tests.factories import DEFAULT_PASSWORD, StudentFactory

REGISTER = "/api/v1/identity/auth/register"
LOGIN = "/api/v1/identity/auth/login"
REFRESH = "/api/v1/identity/auth/refresh"

pytestmark = pytest.mark.django_db


class FrozenTime:
    """django-ratelimit's windows are fixed buckets; a test straddling a boundary would flake."""

    def __init__(self, start: float):
        self.now = start

    def time(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def frozen_ratelimit_time(monkeypatch):
    frozen = FrozenTime(1_800_000_000.0)
    monkeypatch.setattr(django_ratelimit.core, "time", frozen)
    return frozen


def _register(client, n, **extra):
    return client.post(REGISTER, {"email": f"user{n}@example.com", "password": DEFAULT_PASSWORD}, **extra)


def _assert_rate_limited(response):
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert set(response.json()["error"]) == {"code", "message", "details"}
    retry_after = response["Retry-After"]
    assert retry_after.isdigit() and int(retry_after) >= 1


def test_sixth_register_from_one_ip_is_429_and_creates_nothing(api_client):
    for n in range(5):
        assert _register(api_client, n).status_code == 201

    response = _register(api_client, 5)

    _assert_rate_limited(response)
    assert not User.objects.filter(email="user5@example.com").exists()
    assert User.objects.count() == 5


def test_budget_returns_after_the_window(api_client, frozen_ratelimit_time):
    for n in range(5):
        _register(api_client, n)
    limited = _register(api_client, 5)
    _assert_rate_limited(limited)
    assert 1 <= int(limited["Retry-After"]) <= 60

    frozen_ratelimit_time.now += int(limited["Retry-After"]) - 1
    _assert_rate_limited(_register(api_client, 6))

    frozen_ratelimit_time.now += 1
    assert _register(api_client, 7).status_code == 201


def test_refused_attempts_count_too(api_client):
    for _ in range(5):
        assert api_client.post(REGISTER, {"email": "bad"}).status_code == 400

    _assert_rate_limited(_register(api_client, 0))


def test_malformed_bodies_are_refused_before_they_reach_the_limit(api_client):
    # apps.common.middleware.JsonBodyMiddleware answers 400 before any view runs: a body that
    # is not JSON carries no password to guess, so it neither counts nor slips past the limit.
    for _ in range(12):
        response = api_client.generic("POST", LOGIN, "{not json", content_type="application/json")
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"

    for _ in range(10):
        assert api_client.post(LOGIN, {"email": "x@example.com", "password": "x"}).status_code == 401
    _assert_rate_limited(api_client.post(LOGIN, {"email": "x@example.com", "password": "x"}))


def test_eleventh_login_is_429_even_with_right_password(api_client):
    StudentFactory(email="who@example.com")
    for _ in range(10):
        assert api_client.post(LOGIN, {"email": "who@example.com", "password": "wrong"}).status_code == 401

    response = api_client.post(LOGIN, {"email": "who@example.com", "password": DEFAULT_PASSWORD})

    _assert_rate_limited(response)


def test_twenty_first_refresh_is_429(api_client):
    for _ in range(20):
        assert api_client.post(REFRESH, {"refresh_token": "garbage"}).status_code == 401

    _assert_rate_limited(api_client.post(REFRESH, {"refresh_token": "garbage"}))


def test_endpoints_have_separate_budgets(api_client):
    for n in range(5):
        _register(api_client, n)
    _assert_rate_limited(_register(api_client, 99))

    assert api_client.post(LOGIN, {"email": "user0@example.com", "password": DEFAULT_PASSWORD}).status_code == 200


def test_limits_are_per_client_ip():
    first, second = APIClient(REMOTE_ADDR="203.0.113.1"), APIClient(REMOTE_ADDR="203.0.113.2")
    for n in range(5):
        _register(first, n)
    _assert_rate_limited(_register(first, 50))

    assert _register(second, 51).status_code == 201


def test_limits_read_from_settings_at_call_time(api_client, settings):
    settings.AUTH_RATE_LIMIT_REGISTER_REQUESTS = 2

    assert _register(api_client, 1).status_code == 201
    assert _register(api_client, 2).status_code == 201
    _assert_rate_limited(_register(api_client, 3))


def test_forged_forwarded_for_from_untrusted_peer_does_not_reset_the_limit(settings):
    settings.TRUSTED_PROXY_IPS = []
    client = APIClient(REMOTE_ADDR="198.51.100.7")
    for n in range(5):
        assert _register(client, n, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").status_code == 201

    _assert_rate_limited(_register(client, 5, HTTP_X_FORWARDED_FOR="192.0.2.200"))


def test_forwarded_for_from_a_peer_that_is_not_the_trusted_proxy_is_ignored(settings):
    settings.TRUSTED_PROXY_IPS = ["10.0.0.1"]
    client = APIClient(REMOTE_ADDR="10.0.0.2")
    for n in range(5):
        _register(client, n, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")

    _assert_rate_limited(_register(client, 5, HTTP_X_FORWARDED_FOR="192.0.2.99"))


def test_trusted_proxy_gives_each_forwarded_client_its_own_counter(settings):
    settings.TRUSTED_PROXY_IPS = ["10.0.0.1"]
    proxy = APIClient(REMOTE_ADDR="10.0.0.1")
    for n in range(5):
        assert _register(proxy, n, HTTP_X_FORWARDED_FOR="192.0.2.10").status_code == 201
    _assert_rate_limited(_register(proxy, 5, HTTP_X_FORWARDED_FOR="192.0.2.10"))

    # Another client behind the same proxy has its own budget ...
    assert _register(proxy, 6, HTTP_X_FORWARDED_FOR="192.0.2.11").status_code == 201
    # ... and the limited client cannot escape by prepending a forged address.
    _assert_rate_limited(_register(proxy, 7, HTTP_X_FORWARDED_FOR="1.2.3.4, 192.0.2.10"))


def _request(remote_addr, forwarded=None):
    extra = {"REMOTE_ADDR": remote_addr}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().post("/", **extra)


@pytest.mark.parametrize(
    ("trusted", "remote", "forwarded", "expected"),
    [
        ([], "203.0.113.5", "1.1.1.1", "203.0.113.5"),
        (["10.0.0.0/8"], "203.0.113.5", "1.1.1.1", "203.0.113.5"),
        (["10.0.0.0/8"], "10.1.2.3", None, "10.1.2.3"),
        (["10.0.0.0/8"], "10.1.2.3", "", "10.1.2.3"),
        (["10.0.0.0/8"], "10.1.2.3", "1.1.1.1", "1.1.1.1"),
        (["10.0.0.0/8"], "10.1.2.3", "6.6.6.6, 1.1.1.1", "1.1.1.1"),
        (["10.0.0.0/8"], "10.1.2.3", "6.6.6.6, 1.1.1.1, 10.9.9.9", "1.1.1.1"),
        (["10.0.0.0/8", "172.16.0.1"], "10.1.2.3", "2.2.2.2, 172.16.0.1", "2.2.2.2"),
        (["10.0.0.0/8"], "10.1.2.3", "10.4.4.4, 10.5.5.5", "10.4.4.4"),
        (["10.0.0.0/8"], "10.1.2.3", "1.1.1.1, not-an-ip", "10.1.2.3"),
        (["10.0.0.1"], "10.0.0.1", " 2001:db8::1 ", "2001:db8::1"),
        (["::1"], "::1", "198.51.100.9", "198.51.100.9"),
        ("10.0.0.1, 10.0.0.2", "10.0.0.2", "198.51.100.9", "198.51.100.9"),
    ],
)
def test_client_ip(settings, trusted, remote, forwarded, expected):
    settings.TRUSTED_PROXY_IPS = trusted

    assert client_ip(_request(remote, forwarded)) == expected


def test_ipv6_clients_share_a_budget_per_64(api_client):
    for n in range(5):
        _register(api_client, n, REMOTE_ADDR=f"2001:db8:1:2::{n + 1}")

    _assert_rate_limited(_register(api_client, 9, REMOTE_ADDR="2001:db8:1:2:ffff::1"))
    assert _register(api_client, 10, REMOTE_ADDR="2001:db8:1:3::1").status_code == 201


def test_dead_cache_fails_closed(api_client, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6390/0"}
    }

    response = _register(api_client, 1)

    _assert_rate_limited(response)
    assert not User.objects.exists()


def test_counters_are_shared_through_redis(settings, redis_url):
    """Two cache clients (as two worker processes would have) see one counter in Redis."""
    redis_cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": redis_url(15),
        "KEY_PREFIX": "go-identity-ratelimit-test",
    }
    settings.CACHES = {"default": redis_cache, "worker_b": dict(redis_cache)}
    caches["default"].clear()
    try:
        client = APIClient(REMOTE_ADDR="203.0.113.77")
        settings.RATELIMIT_USE_CACHE = "default"
        for n in range(3):
            assert _register(client, n).status_code == 201

        settings.RATELIMIT_USE_CACHE = "worker_b"
        assert caches["worker_b"] is not caches["default"]
        for n in range(3, 5):
            assert _register(client, n).status_code == 201

        _assert_rate_limited(_register(client, 5))
    finally:
        caches["default"].clear()
