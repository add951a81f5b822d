"""Real threads and processes for the concurrency, fault and scale-out tests: the test database's URL,
start/stop, polling, and callables released at the same moment."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)


def require_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (row locks, SKIP LOCKED, pg_terminate_backend)")


def child_database_url(*, application_name: str | None = None) -> str:
    """A DATABASE_URL naming the database this pytest run uses (test_<name>), for child processes."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "postgres", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if application_name:
        url += f"?application_name={quote(application_name, safe='')}"
    return url


def child_env(**overrides: str) -> dict[str, str]:
    """The parent's environment minus anything that would point a child elsewhere, plus `overrides`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "DJANGO_SETTINGS"))}
    env.update(
        {
            "DATABASE_URL": child_database_url(),
            "APP_ENV": "development",
            "DEBUG": "false",
            "LOG_LEVEL": "INFO",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "REDIS_URL": "",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(overrides)
    return env


def spawn(argv: list[str], *, env: dict[str, str], log: Path, err_log: Path | None = None) -> subprocess.Popen:
    """Start `argv` in its own session, stdout appended to `log` (stderr too unless `err_log`)."""
    with log.open("ab") as out:
        if err_log is None:
            return subprocess.Popen(
                argv, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        with err_log.open("ab") as err:
            return subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=out, stderr=err, start_new_session=True)


def manage_py(*args: str, env: dict[str, str], log: Path, err_log: Path | None = None) -> subprocess.Popen:
    """Start `python manage.py <args>`."""
    return spawn([sys.executable, "manage.py", *args], env=env, log=log, err_log=err_log)


def stop(process: subprocess.Popen, *, timeout: float = 10) -> int:
    """SIGTERM, wait, then SIGKILL the whole process group if it lingers; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return process.wait(timeout=timeout)


def kill_group(process: subprocess.Popen) -> None:
    """Last-resort cleanup: SIGKILL the process group (the process was started in its own session)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)


def wait_for(predicate: Callable[[], bool], *, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(log: Path, chars: int = 4000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return "<no log>"


def run_at_once(*callables, timeout: float = 120) -> list:
    """Start every callable on its own thread at the same moment; return their results (or exceptions)."""
    barrier = threading.Barrier(len(callables))
    results: list = [None] * len(callables)

    def worker(index, fn):
        try:
            barrier.wait(timeout=30)
            results[index] = fn()
        except BaseException as exc:  # the test inspects it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(callables)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results
