"""`/metrics` under a real 2-worker gunicorn (gunicorn.conf.py): the sums are the server's, not one worker's.

Many requests are spread over both workers by concurrent clients; every
scrape, whichever worker answers it, must report exactly that many; a worker
killed and replaced must not take its counts with it. The same server runs
with LOG_FORMAT=json, so its whole stderr (gunicorn's lines and the app's)
must parse line by line, with one access line per request carrying the
caller's X-Request-ID.
"""

import http.client
import json
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.booking.models import Booking
from apps.booking.tests.factories import make_hold
from apps.common import clock
from tests.process_helpers import child_env, free_port, kill_group, require_postgresql, spawn, stop, tail, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

REQUESTS = 240
CLIENTS = 6
TOKEN = "scrape-token-for-tests"


@pytest.fixture(autouse=True)
def _postgresql_only():
    require_postgresql()


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Host": "127.0.0.1", **(headers or {})})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


def _scrape(port: int) -> dict[tuple[str, tuple], float]:
    status, _, body = _get(port, "/metrics")
    assert status == 200, body
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


def _health_count(samples: dict) -> float:
    key = ("guitaronline_http_requests_total", (("method", "GET"), ("route", "/health"), ("status", "200")))
    return samples.get(key, 0.0)


def _worker_pids(multiproc_dir: Path) -> set[int]:
    return {int(path.stem.rsplit("_", 1)[1]) for path in multiproc_dir.glob("counter_*.db")}


def _hammer(port: int) -> list[int]:
    """REQUESTS GETs of /health from CLIENTS threads, each on its own connection; returns the statuses."""
    statuses: list[int] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        for i in range(REQUESTS // CLIENTS):
            status, headers, _ = _get(port, "/health", {"X-Request-ID": f"load-{n}-{i}"})
            assert headers["x-request-id"] == f"load-{n}-{i}"
            with lock:
                statuses.append(status)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def test_two_workers_report_one_sum_and_log_json_lines():
    stale = make_hold()
    Booking.objects.filter(pk=stale.pk).update(hold_expires_at=clock.now().replace(year=2000))
    with tempfile.TemporaryDirectory(prefix="go-metrics-") as tmp:
        tmp_path = Path(tmp)
        multiproc_dir = tmp_path / "prometheus"
        multiproc_dir.mkdir()
        (multiproc_dir / "counter_999999.db").write_bytes(b"stale file of an earlier run")
        log = tmp_path / "gunicorn.log"
        port = free_port()
        env = child_env(
            ALLOWED_HOSTS="127.0.0.1",
            DB_CONN_MAX_AGE="0",
            LOG_FORMAT="json",
            PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir),
            METRICS_TOKEN=TOKEN,
        )
        argv = [sys.executable, "-m", "gunicorn", "guitaronline.wsgi:application", "--config", "gunicorn.conf.py"]
        argv += ["--bind", f"127.0.0.1:{port}", "--workers", "2", "--graceful-timeout", "5"]
        server = spawn(argv, env=env, log=log)
        try:
            up = wait_for(lambda: server.poll() is not None or _answers(port), timeout=60, interval=0.2)
            assert up and server.poll() is None, tail(log)
            assert not (multiproc_dir / "counter_999999.db").exists(), "gunicorn.conf.py must empty the directory"

            statuses = _hammer(port)
            assert statuses == [200] * REQUESTS

            pids = _worker_pids(multiproc_dir)
            assert len(pids) == 2, f"both workers should have served: {pids}\n{tail(log)}"
            # Whichever worker answers a scrape, the sum is the server's.
            scrapes = [_health_count(_scrape(port)) for _ in range(8)]
            assert scrapes == [REQUESTS] * 8, scrapes

            samples = _scrape(port)
            assert samples[("guitaronline_stale_booking_holds", ())] == 1
            assert samples[("guitaronline_operations_gauges_up", ())] == 1
            latency = ("guitaronline_http_request_duration_seconds_count", _health_count_labels())
            assert samples[latency] == REQUESTS

            # A worker killed outright is replaced; its counts stay in the sum.
            victim = sorted(pids)[0]
            os.kill(victim, signal.SIGKILL)
            assert wait_for(lambda: f"pid:{victim}" in log.read_text(), timeout=30), tail(log)
            assert wait_for(lambda: _answers(port), timeout=30), tail(log)
            assert [_health_count(_scrape(port)) for _ in range(4)] == [REQUESTS] * 4

            # The token opens it for a client outside the allowed CIDRs too (here: every client is loopback,
            # so this only shows the header is accepted beside the IP rule).
            status, _, _ = _get(port, "/metrics", {"Authorization": f"Bearer {TOKEN}"})
            assert status == 200
            assert stop(server, timeout=15) == 0, tail(log)
        finally:
            kill_group(server)

        lines = log.read_text().splitlines()
        records = [json.loads(line) for line in lines]  # every line, gunicorn's and the app's, is JSON
        access = [record for record in records if record.get("logger") == "guitaronline.access"]
        load_ids = {record["request_id"] for record in access if record["request_id"].startswith("load-")}
        assert len(load_ids) == REQUESTS
        assert all(
            record["path"] == "/health" and record["status"] == 200
            for record in access
            if record["request_id"] in load_ids
        )
        assert all(isinstance(record["duration_ms"], float) for record in access)
        assert any(record.get("logger") == "gunicorn.error" for record in records)


def _health_count_labels() -> tuple:
    return (("method", "GET"), ("route", "/health"), ("status", "200"))


def _answers(port: int) -> bool:
    try:
        status, _, _ = _get(port, "/ready")
    except OSError:
        return False
    return status == 200
