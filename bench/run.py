"""`make bench`: measure the hot paths against the `/health` ceiling, the production way.

Starts gunicorn (the Dockerfile's worker count, DEBUG=false, PostgreSQL from
DATABASE_URL, Redis cache), seeds data in bulk with SQL, and prints per scenario
our figure, the `/health` ceiling H of the same run, their ratio, the figure of
the FastAPI system we replace (measured side by side in issue 11, for scale),
and the issue's goals computed from H, each met or not. Reads use wrk
(installed with apt when missing); writes use a small threaded Python client.
`statements_per_request` counts the SQL statements of one hold, confirm,
cancel and booking-list request (bench/count_statements.py). Run by hand, not in CI:

    make bench                       # every scenario, once
    make bench BENCH_ARGS="--runs 3" # three runs (fresh database and server each), then medians and ranges
    make bench BENCH_ARGS="--only open_slots_read,hold_contention"

Absolute figures move with the machine (2x from day to day, more when other
jobs share the cores); ratios to H, statement counts and in-process profiles
are what to compare before and after a change.

The database named by BENCH_DATABASE_URL (default .../guitaronline_bench) is
dropped and re-created: never point it at data you keep.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PORT = int(os.environ.get("BENCH_PORT", "8765"))
HOST = "127.0.0.1"
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/guitaronline_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/3")
PASSWORD = "bench-Pass-123!"
SCENARIOS = [
    "statements_per_request",
    "open_slots_read",
    "my_bookings_read",
    "booking_write_flow",
    "hold_contention",
    "kpi_overview_at_scale",
    "outbox_drain",
]


# The FastAPI system this project replaces, measured side by side in issue 11 (same machine,
# same PostgreSQL, /health ceiling H = 1,619 req/s in that run). Printed for scale only.
OLD_SYSTEM = {
    "open_slots_read": "our req/s was 3.0x its req/s in the side-by-side run",
    "my_bookings_read": "113 req/s",
    "booking_write_flow": "44 bookings/s, hold p50 154 ms",
    "hold_contention": "116 x 5xx",
    "kpi_overview_at_scale": "KPI and ops overviews 278 ms each at 200k bookings",
    "outbox_drain": "330-365 events/s, duplicate notifications with 2 workers (README)",
}


@dataclass(frozen=True)
class Goal:
    """One goal of issue 11: a figure of a run against a threshold computed from that run's H."""

    scenario: str
    text: str
    figure: str  # key in a run's figures
    threshold: Callable[[float], float]  # H -> the goal in the figure's unit
    at_least: bool
    unit: str

    def attainment(self, figures: dict) -> float:
        """Figure / threshold: met when >= 1 (at_least) or <= 1; for a zero threshold, the figure itself."""
        limit = self.threshold(figures["health_rps"])
        return figures[self.figure] / limit if limit else figures[self.figure]

    def met(self, attainment: float) -> bool:
        if self.threshold(1.0) == 0:
            return attainment <= 0
        return attainment >= 1 if self.at_least else attainment <= 1


GOALS = [
    Goal(
        "booking_write_flow",
        ">= 0.055 x H bookings/s",
        "booking_write_flow.bookings_per_s",
        lambda h: 0.055 * h,
        True,
        "bookings/s",
    ),
    Goal("booking_write_flow", "0 errors", "booking_write_flow.errors", lambda h: 0, False, "errors"),
    Goal(
        "booking_write_flow",
        "p99 per call <= 260,000 / H ms",
        "booking_write_flow.p99_ms",
        lambda h: 260_000 / h,
        False,
        "ms",
    ),
    Goal("my_bookings_read", ">= 0.21 x H req/s", "my_bookings_read.rps", lambda h: 0.21 * h, True, "req/s"),
    Goal(
        "kpi_overview_at_scale",
        "KPI overview at 200k <= 150,000 / H ms",
        "kpi_overview_at_scale.kpi_ms",
        lambda h: 150_000 / h,
        False,
        "ms",
    ),
    Goal(
        "kpi_overview_at_scale",
        "ops overview at 200k <= 29,000 / H ms",
        "kpi_overview_at_scale.ops_ms",
        lambda h: 29_000 / h,
        False,
        "ms",
    ),
    Goal(
        "kpi_overview_at_scale",
        "KPI overview at 200k within 10x of its cost at 20k",
        "kpi_overview_at_scale.kpi_growth",
        lambda h: 10,
        False,
        "x",
    ),
    Goal(
        "kpi_overview_at_scale",
        "ops overview at 200k within 10x of its cost at 20k",
        "kpi_overview_at_scale.ops_growth",
        lambda h: 10,
        False,
        "x",
    ),
]


def report(results: dict, scenario: str) -> None:
    """After a scenario's own line: H, the ratio, the old system's figure and this scenario's goals."""
    h = results.get("health_rps")
    print(f"  /health H = {h:.0f} req/s in this run; old system: {OLD_SYSTEM[scenario]}", flush=True)
    for goal in GOALS:
        if goal.scenario != scenario or goal.figure not in results:
            continue
        attainment = goal.attainment(results)
        print(
            f"  goal {goal.text} = {goal.threshold(h):.1f} {goal.unit} at this H: "
            f"{results[goal.figure]:.1f} {goal.unit} -> {'met' if goal.met(attainment) else 'NOT met'}",
            flush=True,
        )


# --------------------------------------------------------------------------- helpers


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def app_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DB_URL,
        REDIS_URL=REDIS_URL,
        APP_ENV="production",
        DEBUG="false",
        SECRET_KEY="bench-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        STATIC_MANIFEST="false",
        LOG_LEVEL="WARNING",
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        # The write scenarios log in many users; the auth limits are not what we measure.
        AUTH_RATE_LIMIT_LOGIN_REQUESTS="1000000",
        AUTH_RATE_LIMIT_REGISTER_REQUESTS="1000000",
        AUTH_RATE_LIMIT_REFRESH_REQUESTS="1000000",
    )
    return env


def manage(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=app_env(), check=check, capture_output=True, text=True
    )


def psql(sql: str, *, db_url: str = DB_URL) -> str:
    result = subprocess.run(
        ["psql", db_url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def admin_db_url() -> str:
    return urlparse(DB_URL)._replace(path="/postgres").geturl()


def recreate_database() -> None:
    name = urlparse(DB_URL).path.lstrip("/")
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', db_url=admin_db_url())
    psql(f'CREATE DATABASE "{name}"', db_url=admin_db_url())
    manage("migrate", "--noinput")


def gunicorn_workers() -> int:
    match = re.search(r"GUNICORN_WORKERS=(\d+)", (ROOT / "Dockerfile").read_text())
    return int(match.group(1)) if match else 4


class Server:
    """gunicorn the way the Dockerfile runs it."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        workers = gunicorn_workers()
        cmd = [
            PYTHON,
            "-m",
            "gunicorn",
            "guitaronline.wsgi:application",
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"{HOST}:{PORT}",
            "--workers",
            str(workers),
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ]
        log(f"starting gunicorn with {workers} workers on :{PORT}")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=app_env())
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                status, _ = request("GET", "/health")
                if status == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not come up")

    def __exit__(self, *exc) -> None:
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)


def request(method: str, path: str, body: dict | None = None, token: str | None = None, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection(HOST, PORT, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, (json.loads(data) if data else None)
    finally:
        if own:
            conn.close()


def login(email: str) -> str:
    status, body = request("POST", "/api/v1/identity/auth/login", {"email": email, "password": PASSWORD})
    if status != 200:
        raise RuntimeError(f"login {email}: {status} {body}")
    return body["access_token"]


def login_many(emails: list[str]) -> list[str]:
    """Log users in in parallel (the password hasher is slow on purpose)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(login, emails))


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    log("wrk missing: installing it from Debian's packages")
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


def wrk(path: str, *, token: str | None = None, connections: int = 32, seconds: int = 10) -> dict:
    cmd = [ensure_wrk(), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    cmd.append(f"http://{HOST}:{PORT}{path}")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(label: str) -> float:
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {
        "rps": rps,
        "p50": pct("50"),
        "p99": pct("99"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --------------------------------------------------------------------------- bulk data (SQL)

HASH_SQL = None


def password_hash() -> str:
    global HASH_SQL
    if HASH_SQL is None:
        HASH_SQL = (
            manage(
                "shell",
                "-c",
                f"from django.contrib.auth.hashers import make_password; print(make_password('{PASSWORD}'))",
            )
            .stdout.strip()
            .splitlines()[-1]
        )
    return HASH_SQL


def bulk_users(prefix: str, role: str, count: int) -> None:
    psql(
        f"""INSERT INTO users (id, password, is_superuser, email, full_name, role, timezone, is_active, is_staff,
                           created_at, updated_at)
        SELECT gen_random_uuid(), '{password_hash()}', false, '{prefix}' || g || '@bench.local', '', '{role}', 'UTC', true,
               {"true" if role == "admin" else "false"}, now(), now()
        FROM generate_series(1, {count}) g"""
    )


def bulk_open_slots(teacher_prefix: str, teachers: int, per_teacher: int) -> None:
    psql(
        f"""INSERT INTO availability_slots (id, teacher_id, created_by_admin_id, start_at, end_at, status, created_at, updated_at)
        SELECT gen_random_uuid(), u.id, NULL,
               date_trunc('hour', now()) + interval '1 day' + (s * interval '1 hour'),
               date_trunc('hour', now()) + interval '1 day' + (s * interval '1 hour') + interval '45 minutes',
               'open', now(), now()
        FROM users u CROSS JOIN generate_series(0, {per_teacher - 1}) s
        WHERE u.email LIKE '{teacher_prefix}%@bench.local' AND u.role = 'teacher'
        LIMIT {teachers * per_teacher}"""
    )


def bulk_packages(student_prefix: str, lessons: int) -> None:
    psql(
        f"""INSERT INTO lesson_packages (id, student_id, lessons_total, lessons_left, lessons_reserved, expires_at, status, created_at, updated_at)
        SELECT gen_random_uuid(), u.id, {lessons}, {lessons}, 0, now() + interval '90 days', 'active', now(), now()
        FROM users u WHERE u.email LIKE '{student_prefix}%@bench.local'"""
    )


def ids(sql: str) -> list[str]:
    out = psql(sql)
    return out.split("\n") if out else []


# --------------------------------------------------------------------------- scenarios


def scenario_health(results: dict) -> None:
    r = wrk("/health")
    results["health_rps"] = r["rps"]
    print(f"health_ceiling: {r['rps']:.0f} req/s, p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms", flush=True)


def adjacent_health() -> float:
    """/health req/s measured just before a read scenario: on a shared machine the load moves within a run."""
    return wrk("/health", seconds=5)["rps"]


def ratio(results: dict, rps: float) -> str:
    return f"{rps / results['health_rps']:.2f}" if results.get("health_rps") else "n/a"


def scenario_statements_per_request(results: dict) -> None:
    """Statements one request sends to PostgreSQL, BEGIN and COMMIT included (bench/count_statements.py)."""
    bulk_users("qc-student", "student", 1)
    bulk_users("qc-teacher", "teacher", 1)
    bulk_packages("qc-student", 10)
    # Three days ahead: the student's cancel is outside the refund window, so it returns the lesson.
    psql(
        """INSERT INTO availability_slots (id, teacher_id, start_at, end_at, status, created_at, updated_at)
        SELECT gen_random_uuid(), id, date_trunc('hour', now()) + interval '3 days',
               date_trunc('hour', now()) + interval '3 days 45 minutes', 'open', now(), now()
        FROM users WHERE email = 'qc-teacher1@bench.local'"""
    )
    package = psql(
        "SELECT p.id FROM lesson_packages p JOIN users u ON u.id = p.student_id WHERE u.email = 'qc-student1@bench.local'"
    )
    slot = psql(
        "SELECT s.id FROM availability_slots s JOIN users u ON u.id = s.teacher_id "
        "WHERE u.email = 'qc-teacher1@bench.local'"
    )
    out = subprocess.run(
        [PYTHON, "bench/count_statements.py", "qc-student1@bench.local", package, slot],
        cwd=ROOT,
        env=app_env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    counts = json.loads(out.strip().splitlines()[-1])
    for name in ("hold", "confirm", "cancel", "my_bookings"):
        results[f"queries_per_{name}"] = counts[name]
    print(f"queries_per_hold={counts['hold']}", flush=True)
    print(f"queries_per_confirm={counts['confirm']}", flush=True)
    print(f"queries_per_cancel={counts['cancel']}  (a confirmed booking, by its student, lesson refunded)", flush=True)
    print(
        f"queries_per_my_bookings={counts['my_bookings']}  (a cache hit: the token's user; "
        f"{counts['my_bookings_miss']} on the first read after a write)",
        flush=True,
    )


def scenario_open_slots_read(results: dict) -> None:
    bulk_users("osr-teacher", "teacher", 20)
    bulk_open_slots("osr-teacher", 20, 100)
    count = psql("SELECT count(*) FROM availability_slots WHERE status='open'")
    psql("ANALYZE")
    near = adjacent_health()
    r = wrk("/api/v1/scheduling/slots/open?limit=20")
    results.update(
        {
            "open_slots_read.rps": r["rps"],
            "open_slots_read.ratio": r["rps"] / results["health_rps"],
            "open_slots_read.ratio_adjacent": r["rps"] / near,
        }
    )
    print(
        f"open_slots_read: {r['rps']:.0f} req/s, p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, "
        f"ratio to /health {ratio(results, r['rps'])} ({r['rps'] / near:.2f} to the {near:.0f} req/s measured just "
        f"before) ({count} open slots, 32 connections, non-2xx {r['non2xx']})",
        flush=True,
    )
    report(results, "open_slots_read")


def scenario_my_bookings_read(results: dict) -> None:
    bulk_users("mbr-student", "student", 1)
    bulk_users("mbr-teacher", "teacher", 2)
    bulk_open_slots("mbr-teacher", 2, 100)
    psql(
        """INSERT INTO lesson_packages (id, student_id, lessons_total, lessons_left, lessons_reserved, expires_at, status, created_at, updated_at)
        SELECT gen_random_uuid(), id, 500, 300, 0, now() + interval '90 days', 'active', now(), now()
        FROM users WHERE email = 'mbr-student1@bench.local'"""
    )
    psql(
        """WITH st AS (SELECT id FROM users WHERE email = 'mbr-student1@bench.local'),
              pk AS (SELECT p.id FROM lesson_packages p JOIN st ON p.student_id = st.id)
        INSERT INTO bookings (id, slot_id, student_id, teacher_id, package_id, status, hold_expires_at, confirmed_at,
                              refund_returned, created_at, updated_at)
        SELECT gen_random_uuid(), s.id, (SELECT id FROM st), s.teacher_id, (SELECT id FROM pk), 'confirmed',
               NULL, now(), false, now() - (row_number() over () * interval '1 second'), now()
        FROM availability_slots s JOIN users t ON t.id = s.teacher_id
        WHERE t.email LIKE 'mbr-teacher%@bench.local' LIMIT 200"""
    )
    psql("ANALYZE")
    token = login("mbr-student1@bench.local")
    near = adjacent_health()
    r = wrk("/api/v1/booking/my?limit=20", token=token)
    results.update(
        {
            "my_bookings_read.rps": r["rps"],
            "my_bookings_read.ratio": r["rps"] / results["health_rps"],
            "my_bookings_read.ratio_adjacent": r["rps"] / near,
        }
    )
    print(
        f"my_bookings_read: {r['rps']:.0f} req/s, p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, "
        f"ratio to /health {ratio(results, r['rps'])} ({r['rps'] / near:.2f} to the {near:.0f} req/s measured just "
        f"before) (200 bookings, non-2xx {r['non2xx']})",
        flush=True,
    )
    report(results, "my_bookings_read")


def scenario_booking_write_flow(results: dict) -> None:
    clients, seconds = 16, 15
    bulk_users("bwf-student", "student", clients)
    bulk_users("bwf-teacher", "teacher", clients)
    bulk_packages("bwf-student", 10_000)
    bulk_open_slots("bwf-teacher", clients, 400)
    tokens = login_many([f"bwf-student{i + 1}@bench.local" for i in range(clients)])
    packages = dict(
        row.split("|")
        for row in ids(
            "SELECT u.email, p.id FROM lesson_packages p JOIN users u ON u.id = p.student_id "
            "WHERE u.email LIKE 'bwf-student%@bench.local'"
        )
    )
    # Each client works on its own teacher's slots: distinct slots, no contention by design.
    slot_lists = [
        ids(
            f"SELECT s.id FROM availability_slots s JOIN users u ON u.id = s.teacher_id "
            f"WHERE u.email = 'bwf-teacher{i + 1}@bench.local' ORDER BY s.start_at"
        )
        for i in range(clients)
    ]
    latencies: list[float] = []
    hold_latencies: list[float] = []
    statuses: Counter = Counter()
    done = [0]
    lock = threading.Lock()
    stop_at = time.time() + seconds

    def client(i: int) -> None:
        conn = http.client.HTTPConnection(HOST, PORT, timeout=30)
        package_id = packages[f"bwf-student{i + 1}@bench.local"]
        local_lat, local_hold, local_status, local_done = [], [], Counter(), 0
        for slot_id in slot_lists[i]:
            if time.time() >= stop_at:
                break
            t0 = time.perf_counter()
            status, body = request(
                "POST", "/api/v1/booking/hold", {"slot_id": slot_id, "package_id": package_id}, tokens[i], conn
            )
            local_lat.append((time.perf_counter() - t0) * 1000)
            local_hold.append(local_lat[-1])
            local_status[status] += 1
            if status != 201:
                continue
            t0 = time.perf_counter()
            status, _ = request("POST", f"/api/v1/booking/{body['id']}/confirm", {}, tokens[i], conn)
            local_lat.append((time.perf_counter() - t0) * 1000)
            local_status[status] += 1
            if status == 200:
                local_done += 1
        conn.close()
        with lock:
            latencies.extend(local_lat)
            hold_latencies.extend(local_hold)
            statuses.update(local_status)
            done[0] += local_done

    started = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - started
    errors = sum(n for s, n in statuses.items() if s not in (200, 201))
    rate = done[0] / elapsed
    results.update(
        {
            "booking_write_flow.bookings_per_s": rate,
            "booking_write_flow.ratio": rate / results["health_rps"],
            "booking_write_flow.p50_ms": percentile(latencies, 0.5),
            "booking_write_flow.p99_ms": percentile(latencies, 0.99),
            "booking_write_flow.hold_p50_ms": percentile(hold_latencies, 0.5),
            "booking_write_flow.errors": errors,
        }
    )
    print(
        f"booking_write_flow: {rate:.1f} bookings/s ({rate / results['health_rps']:.3f} x H), "
        f"per call p50 {percentile(latencies, 0.5):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms, "
        f"hold p50 {percentile(hold_latencies, 0.5):.1f} ms, errors {errors} ({clients} clients, {elapsed:.1f} s, "
        f"statuses {dict(statuses)})",
        flush=True,
    )
    report(results, "booking_write_flow")


def scenario_hold_contention(results: dict) -> None:
    slots_n, per_slot = 20, 50
    bulk_users("hc-student", "student", per_slot)
    bulk_users("hc-teacher", "teacher", 1)
    bulk_packages("hc-student", 100)
    bulk_open_slots("hc-teacher", 1, slots_n)
    slots = ids(
        "SELECT s.id FROM availability_slots s JOIN users u ON u.id = s.teacher_id "
        "WHERE u.email = 'hc-teacher1@bench.local' ORDER BY s.start_at"
    )
    tokens = login_many([f"hc-student{i + 1}@bench.local" for i in range(per_slot)])
    packages = dict(
        row.split("|")
        for row in ids(
            "SELECT u.email, p.id FROM lesson_packages p JOIN users u ON u.id = p.student_id "
            "WHERE u.email LIKE 'hc-student%@bench.local'"
        )
    )
    statuses: Counter = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(per_slot)

    def student(i: int) -> None:
        package_id = packages[f"hc-student{i + 1}@bench.local"]
        local = Counter()
        for slot_id in slots:
            barrier.wait()
            status, _ = request(
                "POST", "/api/v1/booking/hold", {"slot_id": slot_id, "package_id": package_id}, tokens[i]
            )
            local[status] += 1
        with lock:
            statuses.update(local)

    threads = [threading.Thread(target=student, args=(i,)) for i in range(per_slot)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    five_xx = sum(n for s, n in statuses.items() if s >= 500)
    active = psql(
        "SELECT count(*) FROM bookings b JOIN users u ON u.id = b.teacher_id "
        "WHERE u.email = 'hc-teacher1@bench.local' AND b.status = 'hold'"
    )
    results["hold_contention.5xx"] = five_xx
    print(
        f"hold_contention: {statuses.get(201, 0)} x 201, {statuses.get(422, 0)} x 422, {five_xx} x 5xx, "
        f"other {sum(n for s, n in statuses.items() if s not in (201, 422) and s < 500)}; "
        f"holds in the database {active} ({slots_n} slots x {per_slot} concurrent students)",
        flush=True,
    )
    report(results, "hold_contention")


def seed_scale(factor: float) -> None:
    """100k users, 200k slots, 200k bookings, 50k packages, 100k payments, 100k lessons at factor 1."""
    full = {"users": 100_000, "slots": 200_000, "packages": 50_000, "payments": 100_000}
    n = {k: int(v * factor) for k, v in full.items()}
    teachers = max(n["users"] // 100, 10)
    psql(
        "TRUNCATE notifications, lessons, payments, bookings, lesson_packages, availability_slots, audit_logs, outbox_events, admin_actions CASCADE"
    )
    psql(
        "DELETE FROM token_blacklist_blacklistedtoken; DELETE FROM token_blacklist_outstandingtoken; DELETE FROM users WHERE email LIKE 'kpi-%'"
    )
    bulk_users("kpi-teacher", "teacher", teachers)
    bulk_users("kpi-student", "student", n["users"] - teachers)
    per_teacher = n["slots"] // teachers
    psql(
        f"""INSERT INTO availability_slots (id, teacher_id, start_at, end_at, status, created_at, updated_at)
        SELECT gen_random_uuid(), u.id,
               timestamptz '2027-01-01' + s * interval '1 hour',
               timestamptz '2027-01-01' + s * interval '1 hour' + interval '45 minutes',
               (ARRAY['open','hold','booked','canceled'])[1 + s % 4], now(), now()
        FROM users u CROSS JOIN generate_series(0, {per_teacher - 1}) s
        WHERE u.email LIKE 'kpi-teacher%'"""
    )
    psql(
        f"""INSERT INTO lesson_packages (id, student_id, lessons_total, lessons_left, lessons_reserved, expires_at, status, created_at, updated_at)
        SELECT gen_random_uuid(), u.id, 10, 5, 1,
               now() + ((row_number() over ()) % 60 - 10) * interval '1 day',
               (ARRAY['active','active','expired','canceled'])[1 + (row_number() over ())::int % 4], now(), now()
        FROM users u WHERE u.email LIKE 'kpi-student%' LIMIT {n["packages"]}"""
    )
    psql(
        """WITH p AS (SELECT id, student_id, row_number() over () AS rn FROM lesson_packages),
              np AS (SELECT count(*) AS c FROM p),
              s AS (SELECT id, teacher_id, row_number() over () AS rn FROM availability_slots)
        INSERT INTO bookings (id, slot_id, student_id, teacher_id, package_id, status, hold_expires_at, confirmed_at,
                              refund_returned, created_at, updated_at)
        SELECT gen_random_uuid(), s.id, p.student_id, s.teacher_id, p.id,
               (ARRAY['confirmed','canceled','expired','hold'])[1 + s.rn::int % 4],
               now() + ((s.rn % 20) - 10) * interval '1 minute', now(), false, now(), now()
        FROM s JOIN p ON p.rn = 1 + (s.rn % (SELECT c FROM np))"""
    )
    psql(
        """INSERT INTO lessons (id, booking_id, student_id, teacher_id, scheduled_start_at, scheduled_end_at, status,
                                sequence, created_at, updated_at)
        SELECT gen_random_uuid(), b.id, b.student_id, b.teacher_id, timestamptz '2027-01-01', timestamptz '2027-01-01 00:45',
               (ARRAY['scheduled','completed','canceled','no_show'])[1 + (row_number() over ())::int % 4], 0, now(), now()
        FROM bookings b WHERE b.status IN ('confirmed', 'canceled') """
    )
    psql(
        f"""INSERT INTO payments (id, package_id, amount, currency, status, paid_at, refunded_at, created_at, updated_at)
        SELECT gen_random_uuid(), p.id, 49.90 + (g % 7), 'USD', st.status, now(),
               CASE WHEN st.status = 'refunded' THEN now() END, now(), now()
        FROM (SELECT id, row_number() over () AS rn FROM lesson_packages) p
        JOIN generate_series(1, {n["payments"]}) g ON p.rn = 1 + (g % {max(n["packages"], 1)})
        CROSS JOIN LATERAL (SELECT (ARRAY['pending','succeeded','failed','refunded'])[1 + g % 4] AS status) st"""
    )
    # TRUNCATE fires no trigger: recount the KPI counters (admin_ops/0004) from the rows just loaded,
    # as an operator would after a bulk load, so the overview reads a small, exact counter table.
    manage("compact_kpi_counters", "--rebuild")
    # What autovacuum does to a loaded table: statistics plus the visibility map
    # that lets the KPI counts run as index-only scans.
    psql("VACUUM ANALYZE")


def time_endpoint(path: str, token: str, repeats: int = 20) -> tuple[float, float]:
    conn = http.client.HTTPConnection(HOST, PORT, timeout=60)
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        status, _ = request("GET", path, token=token, conn=conn)
        samples.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"{path} -> {status}")
    conn.close()
    return statistics.median(samples), percentile(samples, 0.95)


def _sales_period() -> str:
    now = time.time()
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 300 * 86400))
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 60 * 86400))
    return f"from={start}&to={end}"


SALES_PERIOD = _sales_period()


def scenario_kpi_overview_at_scale(results: dict) -> None:
    bulk_users("ops-admin", "admin", 1)
    token = login("ops-admin1@bench.local")
    figures = {}
    for factor in (0.1, 1.0):
        seed_scale(factor)
        bookings = psql("SELECT count(*) FROM bookings")
        kpi = time_endpoint("/api/v1/admin/kpi/overview", token)
        ops = time_endpoint("/api/v1/admin/ops/overview", token)
        # Every seeded payment and package falls in this year-long period: the sales figures' worst case.
        sales = time_endpoint(f"/api/v1/admin/kpi/sales?{SALES_PERIOD}", token)
        figures[factor] = (bookings, kpi, ops, sales)
    (b_small, kpi_s, ops_s, sales_s), (b_big, kpi_b, ops_b, sales_b) = figures[0.1], figures[1.0]
    results.update(
        {
            "kpi_overview_at_scale.kpi_ms": kpi_b[0],
            "kpi_overview_at_scale.ops_ms": ops_b[0],
            "kpi_overview_at_scale.sales_ms": sales_b[0],
            "kpi_overview_at_scale.kpi_ms_20k": kpi_s[0],
            "kpi_overview_at_scale.ops_ms_20k": ops_s[0],
            "kpi_overview_at_scale.kpi_growth": kpi_b[0] / kpi_s[0],
            "kpi_overview_at_scale.ops_growth": ops_b[0] / ops_s[0],
        }
    )
    print(
        f"kpi_overview_at_scale: kpi median {kpi_b[0]:.1f} ms p95 {kpi_b[1]:.1f} ms at {b_big} bookings "
        f"vs median {kpi_s[0]:.1f} ms p95 {kpi_s[1]:.1f} ms at {b_small} (x{kpi_b[0] / kpi_s[0]:.1f}); "
        f"ops median {ops_b[0]:.1f} ms p95 {ops_b[1]:.1f} ms vs {ops_s[0]:.1f} ms (x{ops_b[0] / ops_s[0]:.1f}); "
        f"sales median {sales_b[0]:.1f} ms p95 {sales_b[1]:.1f} ms vs {sales_s[0]:.1f} ms "
        f"(x{sales_b[0] / sales_s[0]:.1f})",
        flush=True,
    )
    report(results, "kpi_overview_at_scale")


def seed_outbox(count: int) -> None:
    psql("TRUNCATE notifications, outbox_events CASCADE")
    psql("DELETE FROM users WHERE email LIKE 'ob-%'")
    bulk_users("ob-student", "student", 200)
    psql(
        f"""WITH st AS (SELECT id, row_number() over () AS rn FROM users WHERE email LIKE 'ob-student%')
        INSERT INTO outbox_events (id, aggregate_type, aggregate_id, event_type, payload, status, occurred_at, retries,
                                   error_message, created_at, updated_at)
        SELECT gen_random_uuid(), 'booking', gen_random_uuid(), 'booking.confirmed',
               jsonb_build_object('booking_id', gen_random_uuid()::text, 'student_id', st.id::text,
                                  'teacher_id', st.id::text, 'slot_id', gen_random_uuid()::text,
                                  'package_id', gen_random_uuid()::text, 'start_at', '2027-01-01T10:00:00Z',
                                  'end_at', '2027-01-01T10:45:00Z', 'status', 'confirmed'),
               'pending', now() - (g * interval '1 millisecond'), 0, '', now(), now()
        FROM generate_series(1, {count}) g JOIN st ON st.rn = 1 + (g % 200)"""
    )


def drain(workers: int, count: int) -> float:
    seed_outbox(count)
    cmd = [PYTHON, "manage.py", "run_outbox_worker", "--loop", "--poll-seconds", "0.05", "--batch-size", "500"]
    started = time.time()
    procs = [
        subprocess.Popen(cmd, cwd=ROOT, env=app_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(workers)
    ]
    # One persistent connection for polling: spawning psql 20 times a second would eat
    # the CPU the workers are being measured on.
    import psycopg

    with psycopg.connect(DB_URL, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM outbox_events WHERE status = 'pending'").fetchone()[0] > 0:
            time.sleep(0.05)
    elapsed = time.time() - started
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(timeout=60)
    return count / elapsed


def scenario_outbox_drain(results: dict) -> None:
    count = 20_000
    one = drain(1, count)
    two = drain(2, count)
    duplicates = psql(
        "SELECT count(*) - count(DISTINCT (outbox_event_id, user_id)) FROM notifications WHERE outbox_event_id IS NOT NULL"
    )
    processed = psql("SELECT count(*) FROM outbox_events WHERE status = 'processed'")
    results.update({"outbox_drain.one_worker": one, "outbox_drain.two_workers": two})
    print(
        f"outbox_drain: 1 worker {one:.0f} events/s, 2 workers {two:.0f} events/s (x{two / one:.2f}); "
        f"processed {processed}/{count}, duplicate notifications {duplicates}",
        flush=True,
    )
    report(results, "outbox_drain")


def run_once(chosen: list[str]) -> dict:
    """One run: a fresh database, an empty cache, a new server; /health first, then the scenarios."""
    recreate_database()
    subprocess.run(["redis-cli", "-u", REDIS_URL, "FLUSHDB"], capture_output=True)
    results: dict = {}
    with Server():
        scenario_health(results)
        for name in chosen:
            log(f"scenario {name}")
            globals()[f"scenario_{name}"](results)
    return results


def _number(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.3g}"


def summarize(runs: list[dict]) -> None:
    """Median and range of every figure over the runs, and each goal judged on its median attainment."""
    print(f"\n== {len(runs)} runs: median (range) ==", flush=True)
    for key in sorted({key for run in runs for key in run}):
        values = [run[key] for run in runs if key in run]
        print(
            f"{key}: {_number(statistics.median(values))} ({_number(min(values))} - {_number(max(values))})", flush=True
        )
    for goal in GOALS:
        usable = [run for run in runs if goal.figure in run]
        if not usable:
            continue
        attainments = [goal.attainment(run) for run in usable]
        median = statistics.median(attainments)
        zero = goal.threshold(1.0) == 0
        need = "0 needed" if zero else (">= 1 needed" if goal.at_least else "<= 1 needed")
        measure = "figure" if zero else "figure / the goal at that run's H"
        print(
            f"goal {goal.scenario} {goal.text}: {measure} = {median:.2f} on the median "
            f"(runs: {', '.join(f'{a:.2f}' for a in attainments)}; {need}); met in "
            f"{sum(goal.met(a) for a in attainments)}/{len(usable)} runs -> {'met' if goal.met(median) else 'NOT met'}",
            flush=True,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="", help="comma-separated scenario names")
    parser.add_argument("--runs", type=int, default=1, help="repeat every scenario N times; prints medians and ranges")
    args = parser.parse_args()
    chosen = [s for s in SCENARIOS if not args.only or s in args.only.split(",")]
    runs = []
    for number in range(1, args.runs + 1):
        if args.runs > 1:
            print(f"\n== run {number} of {args.runs} ==", flush=True)
        if number == 1:
            pg = psql("SHOW server_version", db_url=admin_db_url())
            log(f"machine: {os.cpu_count()} cores, PostgreSQL {pg}, gunicorn workers {gunicorn_workers()}")
        log(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        runs.append(run_once(chosen))
    log(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.runs > 1:
        summarize(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
