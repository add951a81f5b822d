"""More than one process serving: two gunicorn instances, two outbox workers, one PostgreSQL, one Redis.

- the auth rate limit lives in Redis, so it is one budget across app servers,
  and the admin site's staff login spends the same budget as the API's login;
- outbox workers share the outbox through SKIP LOCKED: every event handled
  and every notification sent exactly once.

Needs PostgreSQL and Redis (database 14 of the `redis_url` fixture's server, 127.0.0.1:6379 unless
TEST_REDIS_URL says otherwise); the Redis test skips, saying why, when none answers.
"""

import http.client
import json
import re
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django_ratelimit.core import _get_window

from apps.audit.models import OutboxEvent
from apps.common import clock
from apps.identity.models import User
from apps.identity.tests.factories import DEFAULT_PASSWORD, AdminFactory, StudentFactory
from apps.notifications.models import Notification, NotificationStatus
from apps.notifications.tests.factories import aggregate_type_for, contract_payload
from tests.process_helpers import (
    child_env,
    free_port,
    kill_group,
    manage_py,
    require_postgresql,
    spawn,
    stop,
    tail,
    wait_for,
)

REDIS_DB = 14
REGISTER = "/api/v1/identity/auth/register"
RATE_WINDOW_SECONDS = 3600
CLIENT_IP = "127.0.0.1"

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_db(redis_url):
    """The Redis database the servers share, emptied before and after (the test skips when no Redis answers)."""
    import redis

    client = redis.Redis.from_url(redis_url(REDIS_DB), socket_connect_timeout=1, socket_timeout=5)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(autouse=True)
def _postgresql_only():
    require_postgresql()


# --- two app servers, one rate limit ---------------------------------------------------------------


def _request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Host": "127.0.0.1"} if payload else {"Host": "127.0.0.1"}
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        data = json.loads(raw) if raw else {}
        return response.status, {key.lower(): value for key, value in response.getheaders()}, data
    finally:
        conn.close()


def _ready(port: int) -> bool:
    try:
        status, _, _ = _request(port, "GET", "/ready")
    except OSError:
        return False
    return status == 200


@contextmanager
def app_servers(count: int, *, redis: str, logs: Path, cache_prefix: str) -> Iterator[list[int]]:
    """`count` gunicorn instances (one worker each) on free ports, sharing the test database and Redis."""
    env = child_env(
        REDIS_URL=redis,
        CACHE_KEY_PREFIX=cache_prefix,
        ALLOWED_HOSTS="127.0.0.1",
        AUTH_RATE_LIMIT_WINDOW_SECONDS=str(RATE_WINDOW_SECONDS),
        DB_CONN_MAX_AGE="0",
    )
    servers = []
    try:
        for n in range(count):
            port = free_port()
            argv = [sys.executable, "-m", "gunicorn", "guitaronline.wsgi:application"]
            argv += ["--bind", f"127.0.0.1:{port}", "--workers", "1", "--graceful-timeout", "5"]
            servers.append((port, spawn(argv, env=env, log=logs / f"gunicorn-{n}.log")))
        for n, (port, process) in enumerate(servers):
            up = wait_for(lambda p=port, pr=process: pr.poll() is not None or _ready(p), timeout=60, interval=0.2)
            assert up and process.poll() is None, tail(logs / f"gunicorn-{n}.log")
        yield [port for port, _ in servers]
        for n, (_, process) in enumerate(servers):
            assert stop(process, timeout=15) == 0, tail(logs / f"gunicorn-{n}.log")
    finally:
        for _, process in servers:
            kill_group(process)


def _register(port: int, email: str) -> tuple[int, dict, dict]:
    return _request(port, "POST", REGISTER, {"email": email, "password": DEFAULT_PASSWORD})


def _window_end() -> int:
    """The end of the current django-ratelimit window for this client's key (fixed, per-key buckets)."""
    return _get_window(CLIENT_IP, RATE_WINDOW_SECONDS)


def test_auth_rate_limit_is_one_budget_across_two_app_servers(redis_url, redis_db, tmp_logs):
    redis = redis_url(REDIS_DB)
    for attempt in range(2):
        redis_db.flushdb()
        tag = uuid.uuid4().hex[:8]
        emails = [f"scale-{tag}-{n}@example.com" for n in range(7)]
        window = _window_end()
        with app_servers(2, redis=redis, logs=tmp_logs, cache_prefix=f"scale-{tag}") as (first, second):
            # 5 registrations, spread 3/2 over both instances: each one alone never saw 5.
            accepted = [_register(port, email) for port, email in zip([first, second] * 3, emails[:5], strict=False)]
            over_on_second = _register(second, emails[5])
            over_on_first = _register(first, emails[6])
        if _window_end() != window:
            # The fixed rate-limit window rolled over mid-test (very unlikely with 1 h): once more.
            assert attempt == 0, "rate-limit window rolled over twice"
            User.objects.filter(email__in=emails).delete()
            continue
        break
    logs = {path.name: tail(path) for path in tmp_logs.iterdir()}
    assert [status for status, _, _ in accepted] == [201] * 5, (accepted, logs)
    for status, headers, body in (over_on_second, over_on_first):
        assert status == 429, (status, body, logs)
        assert body == {"error": {"code": "rate_limited", "message": body["error"]["message"], "details": {}}}
        assert headers["retry-after"].isdigit() and 1 <= int(headers["retry-after"]) <= RATE_WINDOW_SECONDS
    assert set(User.objects.filter(email__in=emails).values_list("email", flat=True)) == set(emails[:5])
    # The counter really is in Redis (the servers' cache), not in either process.
    assert redis_db.keys(f"scale-{tag}:1:rl:*"), redis_db.keys("*")


LOGIN = "/api/v1/identity/auth/login"
ADMIN_LOGIN = "/admin/login/"


def _admin_login(port: int, email: str, password: str) -> tuple[int, dict, str]:
    """A browser's staff login: GET the form for the CSRF cookie, POST it back with the token."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", ADMIN_LOGIN, headers={"Host": "127.0.0.1"})
        page = conn.getresponse()
        page.read()
        cookies = [value for key, value in page.getheaders() if key.lower() == "set-cookie"]
        csrf = next(c.split(";")[0].split("=", 1)[1] for c in cookies if c.startswith("csrftoken="))
        body = urllib.parse.urlencode(
            {"username": email, "password": password, "csrfmiddlewaretoken": csrf, "next": "/admin/"}
        )
        headers = {
            "Host": "127.0.0.1",
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf}",
        }
        conn.request("POST", ADMIN_LOGIN, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode(errors="replace")
        headers_out: dict = {}
        for key, value in response.getheaders():
            headers_out.setdefault(key.lower(), []).append(value)
        return response.status, headers_out, text
    finally:
        conn.close()


def _opens_session(headers: dict) -> bool:
    return any(cookie.startswith("sessionid=") for cookie in headers.get("set-cookie", []))


def test_staff_login_shares_the_api_login_budget_across_two_app_servers(redis_url, redis_db, tmp_logs):
    staff = AdminFactory(email="scale-staff@example.com")
    # The servers hash with Django's default hashers (the tests' MD5 is not among them); few rounds keep it quick.
    staff.password = PBKDF2PasswordHasher().encode(DEFAULT_PASSWORD, "scaleoutsalt", iterations=1000)
    staff.save(update_fields=["password"])
    for attempt in range(2):
        redis_db.flushdb()
        tag = uuid.uuid4().hex[:8]
        window = _window_end()
        with app_servers(2, redis=redis_url(REDIS_DB), logs=tmp_logs, cache_prefix=f"scale-{tag}") as (first, second):
            # The right password works while there is budget left: attempt 1 of 10.
            welcome = _admin_login(first, staff.email, DEFAULT_PASSWORD)
            # Nine wrong guesses over both doors and both servers: no server alone saw ten.
            guesses = [
                _admin_login(second, staff.email, "wrong")[0],
                _request(first, "POST", LOGIN, {"email": staff.email, "password": "wrong"})[0],
                _admin_login(first, staff.email, "wrong")[0],
                _request(second, "POST", LOGIN, {"email": staff.email, "password": "wrong"})[0],
                _admin_login(second, staff.email, "wrong")[0],
                _request(first, "POST", LOGIN, {"email": staff.email, "password": "wrong"})[0],
                _admin_login(first, staff.email, "wrong")[0],
                _request(second, "POST", LOGIN, {"email": staff.email, "password": "wrong"})[0],
                _admin_login(second, staff.email, "wrong")[0],
            ]
            refused_admin = _admin_login(first, staff.email, DEFAULT_PASSWORD)
            refused_api = _request(second, "POST", LOGIN, {"email": staff.email, "password": DEFAULT_PASSWORD})
        if _window_end() != window:
            assert attempt == 0, "rate-limit window rolled over twice"
            continue
        break
    logs = {path.name: tail(path) for path in tmp_logs.iterdir()}
    assert welcome[0] == 302 and _opens_session(welcome[1]), (welcome[0], logs)
    assert guesses == [200, 401, 200, 401, 200, 401, 200, 401, 200], (guesses, logs)
    status, headers, html = refused_admin
    assert status == 429, (status, html[:500], logs)
    assert headers["content-type"][0].startswith("text/html")
    assert "Too many login attempts from your address" in html and 'id="login-form"' in html
    assert not _opens_session(headers)
    assert 1 <= int(headers["retry-after"][0]) <= RATE_WINDOW_SECONDS
    assert refused_api[0] == 429 and refused_api[2]["error"]["code"] == "rate_limited", refused_api
    assert redis_db.keys(f"scale-{tag}:1:rl:*"), redis_db.keys("*")


# --- two outbox workers, one outbox -------------------------------------------------------------------------

CYCLE_LINE = re.compile(r"outbox cycle requeued=(\d+) processed=(\d+) failed=(\d+) dispatched=(\d+)")
ONCE_LINE = re.compile(r"requeued=(\d+) processed=(\d+) failed=(\d+) dispatched=(\d+) delivery_failed=(\d+)")


def _pending_events(count: int) -> set:
    """`count` pending booking.confirmed events over 40 students: one notification each."""
    students = StudentFactory.create_batch(40)
    rows = []
    for n in range(count):
        payload = contract_payload("booking.confirmed", student=students[n % 40])
        rows.append(
            OutboxEvent(
                aggregate_type=aggregate_type_for("booking.confirmed"),
                aggregate_id=payload["booking_id"],
                event_type="booking.confirmed",
                payload=payload,
                occurred_at=clock.now(),
            )
        )
    return {event.pk for event in OutboxEvent.objects.bulk_create(rows)}


def _emails_sent(stdout: str) -> int:
    """The console e-mail backend prints each message with one Subject: header."""
    return len(re.findall(r"^Subject: ", stdout, flags=re.M))


def _assert_each_event_once(event_ids: set, expected: int) -> None:
    assert OutboxEvent.objects.filter(pk__in=event_ids, status=OutboxEvent.Status.PROCESSED).count() == expected
    assert Notification.objects.filter(status=NotificationStatus.SENT).count() == expected
    pairs = list(Notification.objects.values_list("outbox_event_id", "user_id"))
    assert len(pairs) == len(set(pairs)) == expected
    assert {event_id for event_id, _ in pairs} == event_ids


def test_two_looping_outbox_workers_share_400_events_exactly_once(tmp_logs):
    env = child_env(EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend")
    workers = []
    try:
        for n in range(2):
            argv = ["run_outbox_worker", "--loop", "--poll-seconds", "0.1", "--batch-size", "10"]
            workers.append(manage_py(*argv, env=env, log=tmp_logs / f"out-{n}.log", err_log=tmp_logs / f"err-{n}.log"))
        started = [tmp_logs / f"err-{n}.log" for n in range(2)]
        assert wait_for(lambda: all("loop started" in tail(p) for p in started), timeout=60), [tail(p) for p in started]

        event_ids = _pending_events(400)  # one commit: both workers see all 400 at once
        done = wait_for(
            lambda: (
                Notification.objects.filter(status=NotificationStatus.SENT).count() >= 400
                and not OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING).exists()
            ),
            timeout=90,
            interval=0.2,
        )
        assert done, [tail(tmp_logs / f"err-{n}.log") for n in range(2)]
        time.sleep(0.3)  # one more idle poll each: nothing left to double-handle
        codes = [stop(worker, timeout=15) for worker in workers]
    finally:
        for worker in workers:
            kill_group(worker)

    errs = [(tmp_logs / f"err-{n}.log").read_text() for n in range(2)]
    outs = [(tmp_logs / f"out-{n}.log").read_text() for n in range(2)]
    assert codes == [0, 0], errs
    assert not any("Traceback" in text for text in errs), errs
    _assert_each_event_once(event_ids, 400)
    per_worker = [
        [tuple(int(x) for x in match) for match in CYCLE_LINE.findall(text)] for text in errs
    ]  # (requeued, processed, failed, dispatched) per cycle
    processed = [sum(cycle[1] for cycle in cycles) for cycles in per_worker]
    dispatched = [sum(cycle[3] for cycle in cycles) for cycles in per_worker]
    assert sum(processed) == 400, processed  # no event claimed by both
    assert sum(dispatched) == 400, dispatched  # no notification sent by both
    assert [_emails_sent(text) for text in outs] == dispatched
    assert all(count > 0 for count in processed), f"one worker did everything: {processed}"
    assert all(failed == 0 for cycles in per_worker for _, _, failed, _ in cycles)
    print(f"\nworkers' shares of 400 events: {processed}")


def test_two_once_mode_workers_started_together_split_the_outbox(tmp_logs):
    event_ids = _pending_events(400)
    env = child_env(EMAIL_BACKEND="django.core.mail.backends.console.EmailBackend")
    workers = []
    try:
        for n in range(2):
            argv = ["run_outbox_worker", "--batch-size", "250"]
            workers.append(manage_py(*argv, env=env, log=tmp_logs / f"out-{n}.log", err_log=tmp_logs / f"err-{n}.log"))
        codes = [worker.wait(timeout=120) for worker in workers]
    finally:
        for worker in workers:
            kill_group(worker)
    outs = [(tmp_logs / f"out-{n}.log").read_text() for n in range(2)]
    errs = [(tmp_logs / f"err-{n}.log").read_text() for n in range(2)]
    assert codes == [0, 0], errs
    results = [tuple(int(x) for x in ONCE_LINE.findall(text)[-1]) for text in outs]
    processed = [result[1] for result in results]
    # Each claims at most 250; together, exactly the 400 and no event twice.
    assert sum(processed) == 400 and max(processed) <= 250, results
    assert all(result[2] == 0 and result[4] == 0 for result in results), results
    # Each sends the notifications it can claim (its own or the other's): none twice.
    assert sum(result[3] for result in results) == sum(_emails_sent(text) for text in outs)
    sent = Notification.objects.filter(status=NotificationStatus.SENT).count()
    assert sent == sum(result[3] for result in results)
    # Whatever one cycle each could not deliver waits, pending, for the next cycle.
    assert Notification.objects.filter(status=NotificationStatus.PENDING).count() == 400 - sent
    leftover = manage_py("run_outbox_worker", "--batch-size", "500", env=env, log=tmp_logs / "out-last.log")
    try:
        assert leftover.wait(timeout=120) == 0, tail(tmp_logs / "out-last.log")
    finally:
        kill_group(leftover)
    _assert_each_event_once(event_ids, 400)
    print(f"\nonce-mode shares of 400 events: {processed}")
