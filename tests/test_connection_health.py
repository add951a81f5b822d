"""The PostgreSQL health check without a round trip (guitaronline/postgresql/base.py).

A persistent connection the server dropped is replaced before a request uses
it, as with Django's `SELECT 1` check; an idle live one is used without asking.
"""

import http.client
import json
import sys
import time
import uuid

import psycopg
import pytest
from django.db import connection
from django.db.backends.postgresql import base as django_postgresql
from rest_framework_simplejwt.tokens import AccessToken

from apps.identity.tests.factories import StudentFactory
from tests.process_helpers import (
    child_database_url,
    child_env,
    free_port,
    kill_group,
    require_postgresql,
    spawn,
    stop,
    tail,
    wait_for,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    require_postgresql()


def _terminate(pid: int) -> None:
    with psycopg.connect(child_database_url(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


def test_an_idle_live_connection_is_usable_without_a_query(monkeypatch):
    connection.ensure_connection()

    def ask_the_server(self):
        raise AssertionError("asked the server")

    monkeypatch.setattr(django_postgresql.DatabaseWrapper, "is_usable", ask_the_server)
    assert connection.is_usable()


def test_a_connection_the_server_dropped_is_not_usable_and_is_replaced():
    connection.ensure_connection()
    old_pid = connection.connection.info.backend_pid
    _terminate(old_pid)
    assert wait_for(lambda: not connection.is_usable(), timeout=5)
    connection.close_if_unusable_or_obsolete()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != old_pid


def test_an_app_server_whose_connection_was_killed_answers_the_next_request(tmp_path):
    student = StudentFactory()
    app_name = f"health-{uuid.uuid4().hex[:8]}"
    env = child_env(ALLOWED_HOSTS="127.0.0.1", DB_CONN_MAX_AGE="600")
    env["DATABASE_URL"] += f"?application_name={app_name}"
    port, log = free_port(), tmp_path / "gunicorn.log"
    argv = [sys.executable, "-m", "gunicorn", "guitaronline.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    server = spawn([*argv, "--workers", "1"], env=env, log=log)
    headers = {"Authorization": f"Bearer {AccessToken.for_user(student)}", "Host": "127.0.0.1"}

    def backends() -> list[int]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [app_name])
            return [row[0] for row in cursor.fetchall()]

    try:
        assert wait_for(lambda: _get(port, headers)[0] == 200, timeout=60, interval=0.2), tail(log)
        (first,) = backends()
        _terminate(first)
        time.sleep(0.2)
        status, body = _get(port, headers)
        assert status == 200, (body, tail(log))
        assert backends() not in ([], [first])
        assert stop(server, timeout=15) == 0, tail(log)
    finally:
        kill_group(server)


def _get(port: int, headers: dict) -> tuple[int, dict]:
    """GET the caller's bookings: (status, body), or (0, {}) while nothing listens."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/api/v1/booking/my", headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    except OSError:
        return 0, {}
    finally:
        conn.close()


def test_a_connection_in_an_aborted_transaction_is_asked_and_found_unusable():
    """As with Django's own check: SELECT 1 fails there, so the connection is not used as it is."""
    connection.ensure_connection()
    raw = connection.connection
    raw.execute("BEGIN")
    with pytest.raises(psycopg.errors.UndefinedTable):
        raw.execute("SELECT 1 FROM no_such_table_for_tests")
    assert not connection.is_usable()
    raw.rollback()
    assert connection.is_usable()
