"""`backup_db` and `verify_backup` as an operator runs them: real processes, real pg_dump/pg_restore (SPEC §8.6).

The demo school is seeded into this run's test database (pytest-django's
test_<name>, committed: transaction=True), dumped by `manage.py backup_db`,
and restored and checked by `manage.py verify_backup` in a throwaway
database. Then the archive is damaged (cut short, bytes flipped), and a dump
is crafted whose data breaks the SPEC §7 invariants behind a dropped index
and a NOT VALID constraint: each must fail with a clear message, exit 1, no
traceback, and leave no throwaway database behind.
"""

import re
import secrets
import signal
import subprocess
import sys
import tempfile
from io import StringIO
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from apps.admin_ops.backups import find_pg_tools
from apps.billing.models import LessonPackage
from apps.booking.models import Booking
from apps.notifications.models import Notification
from apps.scheduling.models import AvailabilitySlot
from tests.process_helpers import BASE_DIR, child_env, kill_group, require_postgresql, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    require_postgresql()


@pytest.fixture
def workdir():
    with tempfile.TemporaryDirectory(prefix="go-backup-") as tmp:
        yield Path(tmp)


@pytest.fixture
def demo_school(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("seed_demo_data", stdout=StringIO())
    call_command("run_outbox_worker", stdout=StringIO())  # notifications too, as in a live school
    assert Notification.objects.exists()


def manage(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env or child_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def throwaway_databases() -> list[str]:
    prefix = connection.settings_dict["NAME"][:30] + "_verify_"
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", [prefix])
        return [row[0] for row in cursor.fetchall()]


def row_counts(stdout: str) -> dict[str, int]:
    return {name: int(count.replace(",", "")) for name, count in re.findall(r"^  (\w+)\s+([\d,]+)$", stdout, re.M)}


def assert_clear_failure(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert "CommandError: " in result.stderr, result.stderr
    for text in expected:
        assert text in result.stderr, (text, result.stderr)


def backup(workdir: Path, name: str = "school.dump") -> Path:
    archive = workdir / name
    result = manage("backup_db", "--output", str(archive))
    assert result.returncode == 0, result.stderr
    assert re.match(r"Backed up PostgreSQL \d+.* to .*school\.dump: [\d.]+ MiB in [\d.]+ s", result.stdout), (
        result.stdout
    )
    assert archive.stat().st_size > 10_000
    assert not list(workdir.glob(".*partial*")), "the partial file was left behind"
    return archive


def test_backup_of_the_demo_school_verifies_and_damaged_copies_fail(demo_school, workdir):
    archive = backup(workdir)

    verified = manage("verify_backup", str(archive))

    assert verified.returncode == 0, (verified.stdout, verified.stderr)
    assert "Backup OK: " in verified.stdout
    counts = row_counts(verified.stdout)
    assert counts["bookings"] == Booking.objects.count() > 0
    assert counts["availability_slots"] == AvailabilitySlot.objects.count() > 0
    assert counts["lesson_packages"] == LessonPackage.objects.count() > 0
    assert counts["notifications"] == Notification.objects.count() > 0
    assert counts["django_migrations"] > 40
    assert re.search(r"Checked: \d+ migrations, \d+ constraints and indexes, 8 invariants\.", verified.stdout)
    assert re.search(r"Time: restore [\d.]+ s, checks [\d.]+ s, drop [\d.]+ s, total [\d.]+ s", verified.stdout)
    assert throwaway_databases() == []

    data = archive.read_bytes()
    truncated = workdir / "truncated.dump"
    truncated.write_bytes(data[: len(data) // 2])
    assert_clear_failure(manage("verify_backup", str(truncated)), "Backup verification FAILED", "truncated.dump")

    # Flip a block in the compressed table data near the end: zlib's checksum catches it during the restore.
    flipped = workdir / "flipped.dump"
    damaged = bytearray(data)
    start = int(len(damaged) * 0.9)
    for i in range(start, start + 256):
        damaged[i] ^= 0xFF
    flipped.write_bytes(bytes(damaged))
    result = manage("verify_backup", str(flipped))
    assert_clear_failure(result, "Backup verification FAILED", "pg_restore")
    assert "damaged" in result.stderr or "not a readable pg_dump" in result.stderr

    not_an_archive = workdir / "notes.txt"
    not_an_archive.write_text("this is not a backup\n")
    assert_clear_failure(manage("verify_backup", str(not_an_archive)), "not a readable pg_dump custom-format archive")
    assert_clear_failure(manage("verify_backup", str(workdir / "missing.dump")), "does not exist")
    assert throwaway_databases() == []


def _scratch_copy_with_broken_invariants(archive: Path, workdir: Path) -> Path:
    """Restore `archive` into a scratch database, break rules behind the constraints' backs, dump it again."""
    db = connection.settings_dict
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        tools = find_pg_tools(server_major=int(cursor.fetchone()[0]) // 10000)
    scratch = f"{db['NAME'][:30]}_scratch_{secrets.token_hex(4)}"
    libpq = {"host": db["HOST"] or "127.0.0.1", "port": str(db["PORT"] or 5432), "user": db["USER"] or "postgres"}
    env = {**child_env(), "PGHOST": libpq["host"], "PGPORT": libpq["port"], "PGUSER": libpq["user"]}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{scratch}" TEMPLATE template0')
    try:
        subprocess.run([tools.pg_restore, "--no-owner", "-d", scratch, str(archive)], env=env, check=True)
        with psycopg.connect(**libpq, dbname=scratch, password=db.get("PASSWORD") or None, autocommit=True) as conn:
            # A package whose reservations exceed its lessons, kept in by a NOT VALID constraint ...
            conn.execute("ALTER TABLE lesson_packages DROP CONSTRAINT packages_counters_consistent")
            conn.execute(
                "UPDATE lesson_packages SET lessons_reserved = lessons_left + 1 "
                "WHERE id = (SELECT id FROM lesson_packages ORDER BY id LIMIT 1)"
            )
            conn.execute(
                "ALTER TABLE lesson_packages ADD CONSTRAINT packages_counters_consistent CHECK "
                "(lessons_reserved >= 0 AND lessons_reserved <= lessons_left AND lessons_left <= lessons_total) "
                "NOT VALID"
            )
            # ... and a second active booking on a booked slot, once its partial unique index is gone.
            conn.execute("DROP INDEX bookings_one_active_per_slot")
            conn.execute(
                "INSERT INTO bookings (id, created_at, updated_at, status, hold_expires_at, refund_returned, "
                "package_id, slot_id, student_id, teacher_id) "
                "SELECT gen_random_uuid(), now(), now(), 'hold', now() + interval '10 minutes', false, "
                "package_id, slot_id, student_id, teacher_id FROM bookings WHERE status = 'confirmed' LIMIT 1"
            )
        broken = workdir / "broken.dump"
        subprocess.run([tools.pg_dump, "-Fc", "-f", str(broken), scratch], env=env, check=True)
        return broken
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def test_a_restorable_dump_that_breaks_the_invariants_fails_verification(demo_school, workdir):
    broken = _scratch_copy_with_broken_invariants(backup(workdir), workdir)

    result = manage("verify_backup", str(broken))

    assert_clear_failure(
        result,
        "Backup verification FAILED: 4 problem(s)",
        "Invariant broken: 0 <= lessons_reserved <= lessons_left <= lessons_total (1 violating row(s))",
        "Invariant broken: a slot has at most one booking in hold or confirmed (1 violating row(s))",
        "Constraints/indexes missing: bookings_one_active_per_slot",
        "Constraints present but NOT VALID (old rows unchecked): packages_counters_consistent",
    )
    assert row_counts(result.stdout)["bookings"] == Booking.objects.count() + 1  # counts still printed
    assert throwaway_databases() == []


def test_a_dump_missing_a_migration_fails_verification(demo_school, workdir):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'audit' AND name = '0003_outbox_processed_idx'")
    try:
        archive = backup(workdir)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO django_migrations (app, name, applied) "
                "VALUES ('audit', '0003_outbox_processed_idx', now())"
            )

    result = manage("verify_backup", str(archive))

    assert_clear_failure(result, "Migrations incomplete: 1 migration(s)", "audit.0003_outbox_processed_idx")


def test_sigterm_during_the_restore_still_drops_the_throwaway_database(demo_school, workdir):
    archive = backup(workdir)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "verify_backup", str(archive)],
        cwd=BASE_DIR,
        env=child_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert wait_for(lambda: bool(throwaway_databases()), timeout=60, interval=0.01)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        kill_group(process)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "Traceback" not in stderr
    assert throwaway_databases() == []


def test_both_commands_say_clearly_when_the_database_is_not_postgresql(workdir):
    env = child_env(DATABASE_URL=f"sqlite:///{workdir / 'school.sqlite3'}")

    for args in (["backup_db", "--output", str(workdir / "x.dump")], ["verify_backup", str(workdir / "x.dump")]):
        assert_clear_failure(manage(*args, env=env), "Backups need PostgreSQL; DATABASE_URL points at sqlite")
    assert not (workdir / "x.dump").exists()


def test_both_commands_say_clearly_when_pg_dump_and_pg_restore_are_missing(workdir):
    empty = workdir / "bin"
    empty.mkdir()
    archive = workdir / "x.dump"
    archive.write_bytes(b"PGDMP")

    for args in (["backup_db", "--output", str(workdir / "y.dump")], ["verify_backup", str(archive)]):
        result = manage(*args, "--pg-bin-dir", str(empty))
        assert_clear_failure(result, f"not found in {empty}", "Install the PostgreSQL client tools")
    assert not (workdir / "y.dump").exists()


def test_tools_older_than_the_server_are_refused_by_name(workdir):
    old = workdir / "old-bin"
    old.mkdir()
    for tool in ("pg_dump", "pg_restore"):
        script = old / tool
        script.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
        script.chmod(0o755)

    result = manage("backup_db", "--output", str(workdir / "y.dump"), "--pg-bin-dir", str(old))

    assert_clear_failure(result, f"found: {old / 'pg_dump'} (9)", "postgresql-client-")


def test_backup_into_a_missing_directory_is_a_clear_error(workdir):
    result = manage("backup_db", "--output", str(workdir / "nowhere" / "x.dump"))

    assert_clear_failure(result, "does not exist")
