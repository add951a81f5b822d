"""`make test`'s runner (tests/pg_for_tests.py), run for real: a throwaway PostgreSQL when none answers.

Each test runs the runner on a small pytest file of its own (outside this project's settings) and
checks what that inner run saw and what is left afterwards.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.process_helpers import free_port, wait_for

RUNNER = Path(settings.BASE_DIR) / "tests" / "pg_for_tests.py"

# The inner run's one test: what DATABASE_URL names, and what the server there is.
INNER_TEST = """
import json, os, time
from pathlib import Path

import psycopg


def test_report():
    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        data_dir = conn.execute("SHOW data_directory").fetchone()[0]
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        extensions = [row[0] for row in conn.execute("SELECT extname FROM pg_extension")]
    Path(os.environ["REPORT"]).write_text(json.dumps(
        {"url": url, "version": int(version), "data_dir": data_dir, "extensions": extensions}
    ))
    time.sleep(float(os.environ.get("LINGER", "0")))
"""


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _runner(tmp_path: Path, *, database_url: str, linger: float = 0) -> tuple[subprocess.Popen, Path]:
    (tmp_path / "test_inner.py").write_text(textwrap.dedent(INNER_TEST))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    report = tmp_path / "report.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "DJANGO_"))}
    env.update(DATABASE_URL=database_url, REPORT=str(report), LINGER=str(linger), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    argv = [sys.executable, str(RUNNER), "-q", "-p", "no:cacheprovider", "test_inner.py"]
    process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return process, report


def test_nothing_answering_gets_a_throwaway_server_with_btree_gist_gone_afterwards(tmp_path):
    dead_port = free_port()
    process, report = _runner(tmp_path, database_url=f"postgres://someone:secret@127.0.0.1:{dead_port}/school")
    output, _ = process.communicate(timeout=120)

    assert process.returncode == 0, output
    seen = json.loads(report.read_text())
    port = int(seen["url"].split(":")[-1].split("/")[0])
    assert seen["url"] == f"postgres://postgres@127.0.0.1:{port}/school"
    assert port != dead_port
    assert seen["version"] >= 180000
    assert "btree_gist" in seen["extensions"]
    assert f"nothing answers at 127.0.0.1:{dead_port}; PostgreSQL for this run: throwaway PostgreSQL 18" in output
    assert "secret" not in output
    # Stopped and removed.
    assert not _answers(port)
    assert not Path(seen["data_dir"]).parent.exists()


def test_a_server_that_answers_is_used_as_it_is(tmp_path):
    url = os.environ.get("DATABASE_URL", "")  # this run's own server answers
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs this run's DATABASE_URL to name a PostgreSQL server")
    process, report = _runner(tmp_path, database_url=url)
    output, _ = process.communicate(timeout=120)

    assert process.returncode == 0, output
    assert json.loads(report.read_text())["url"] == url
    assert f"PostgreSQL for this run: {url}" in output


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_a_run_stopped_by_a_signal_stops_and_removes_its_server(tmp_path, signum):
    process, report = _runner(tmp_path, database_url=f"postgres://postgres@127.0.0.1:{free_port()}/school", linger=60)
    try:
        assert wait_for(lambda: report.exists() or process.poll() is not None, timeout=90), "inner test never ran"
        assert process.poll() is None, process.communicate()[0]
        seen = json.loads(report.read_text())
        port = int(seen["url"].split(":")[-1].split("/")[0])
        assert _answers(port)
        started = time.monotonic()
        process.send_signal(signum)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert process.returncode != 0, output
    assert time.monotonic() - started < 30
    assert not _answers(port)
    assert not Path(seen["data_dir"]).parent.exists()
