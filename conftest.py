"""Fixtures every app's tests share: an API client, users by role, a movable clock, the test Redis."""

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from apps.admin_ops import kpi_counters
from apps.common import clock as clock_module
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from tests import page_cache_guard


def bearer_for(user) -> str:
    return f"Bearer {RefreshToken.for_user(user).access_token}"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The production hasher costs ~0.3 s a user by design; tests need speed, not strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the cache; no test inherits another's."""
    cache.clear()
    yield
    cache.clear()


_DB_FIXTURES = ("transactional_db", "db")


@pytest.fixture(autouse=True)
def _kpi_counters_agree_with_a_recount(request):
    """After every test that touched the database, the trigger-kept KPI counters equal a full recount.

    So every write path the suite exercises (services, admin actions, bulk SQL, concurrent
    threads, killed workers) is also a test of the counters (apps/admin_ops/kpi_counters.py).
    """
    used = next((name for name in _DB_FIXTURES if name in request.fixturenames), None)
    if used is None:
        yield
        return
    request.getfixturevalue(used)  # set up inside this fixture, so torn down after this check
    yield
    if kpi_counters.counters_supported():
        assert kpi_counters.counters_read() == kpi_counters.counters_recount(), "KPI counters drifted from the rows"


@pytest.fixture
def tmp_logs():
    """A directory for the logs of the processes a test starts (gunicorn, workers, commands), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="go-processes-") as tmp:
        yield Path(tmp)


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for():
    """`client_for(user)` -> an APIClient authenticated as that user (anonymous for None)."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=bearer_for(user))
        return client

    return make


@pytest.fixture
def admin_user(db):
    return AdminFactory()


@pytest.fixture
def student(db):
    return StudentFactory()


@pytest.fixture
def teacher(db):
    return TeacherFactory()


@pytest.fixture
def admin_client(client_for, admin_user):
    return client_for(admin_user)


@pytest.fixture
def student_client(client_for, student):
    return client_for(student)


@pytest.fixture
def teacher_client(client_for, teacher):
    return client_for(teacher)


class MovableClock:
    """Replaces `apps.common.clock.now`; `advance()` moves time forward."""

    def __init__(self, monkeypatch):
        self._offset = timedelta()
        self._real_now = clock_module.now
        monkeypatch.setattr(clock_module, "now", self.now)

    def now(self) -> datetime:
        return self._real_now() + self._offset

    def advance(self, **delta) -> None:
        self._offset += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch) -> MovableClock:
    return MovableClock(monkeypatch)


@pytest.fixture
def redis_url():
    """`redis_url(db)`: that database on the Redis server the tests may use; skips the test when none answers.

    The server is TEST_REDIS_URL, else REDIS_URL, else redis://127.0.0.1:6379. Only the tests that need
    Redis itself ask for it; the suite's own cache is local memory unless REDIS_URL says otherwise.
    """
    server = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379"
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(server, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"needs Redis: none answers at {server} ({exc}); start one or set TEST_REDIS_URL")
    finally:
        client.close()
    parts = urlsplit(server)
    return lambda db: urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(autouse=True)
def _list_writes_bump_their_pages():
    """Application code that writes rows a cached list shows also bumps that list (tests/page_cache_guard.py)."""
    yield from page_cache_guard.watch_list_writes()


@pytest.fixture(autouse=True)
def _page_cache_hits_are_fresh():
    """Every list page served from the cache equals the page computed again (tests/page_cache_guard.py)."""
    yield from page_cache_guard.check_cache_hits()
