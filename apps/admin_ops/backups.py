"""Backups an operator can trust: pg_dump archives, and a restore drill that proves one (SPEC §8.6).

`backup_create` writes a PostgreSQL custom-format archive with the client
tools whose major version matches the server. `backup_verify` restores an
archive into a throwaway database (created here, always dropped), then checks
what the code needs of it: every migration applied, every constraint and
index the models declare present and validated, and the SPEC §7 invariants
holding in the data (SQL that counts violating rows, so a constraint dropped
or added `NOT VALID` before the dump cannot hide bad rows). It reports row
counts per table and the time each step took.

This module reads every domain's tables by name (SPEC §7 fixes them), as
`admin_ops/selectors.py` does for the KPIs; it writes nothing but the
throwaway database.
"""

import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.apps import apps
from django.db import connections
from django.db.migrations.loader import MigrationLoader
from psycopg import sql

# The exclusion constraint scheduling's migration 0002 adds on PostgreSQL (not in the model state).
DATABASE_ONLY_CONSTRAINTS = ("availability_slots_no_overlap",)

# SPEC §7 "The database itself guarantees", as queries counting the rows that break each rule.
INVARIANT_CHECKS: tuple[tuple[str, str], ...] = (
    (
        "a slot has at most one booking in hold or confirmed",
        "SELECT count(*) FROM (SELECT slot_id FROM bookings WHERE status IN ('hold', 'confirmed') "
        "GROUP BY slot_id HAVING count(*) > 1) AS v",
    ),
    (
        "0 <= lessons_reserved <= lessons_left <= lessons_total",
        "SELECT count(*) FROM lesson_packages WHERE NOT (0 <= lessons_reserved "
        "AND lessons_reserved <= lessons_left AND lessons_left <= lessons_total)",
    ),
    (
        "a booking has at most one lesson",
        "SELECT count(*) FROM (SELECT booking_id FROM lessons GROUP BY booking_id HAVING count(*) > 1) AS v",
    ),
    ("a slot ends after it starts", "SELECT count(*) FROM availability_slots WHERE NOT (end_at > start_at)"),
    ("a lesson ends after it starts", "SELECT count(*) FROM lessons WHERE NOT (scheduled_end_at > scheduled_start_at)"),
    ("a payment amount is positive", "SELECT count(*) FROM payments WHERE NOT (amount > 0)"),
    (
        "one notification per (outbox event, recipient)",
        "SELECT count(*) FROM (SELECT outbox_event_id, user_id FROM notifications "
        "WHERE outbox_event_id IS NOT NULL GROUP BY outbox_event_id, user_id HAVING count(*) > 1) AS v",
    ),
    (
        "a teacher's non-canceled slots never overlap",
        # Each slot against the latest end of the teacher's earlier slots: O(n log n), not a self-join.
        "SELECT count(*) FROM (SELECT start_at, max(end_at) OVER (PARTITION BY teacher_id ORDER BY start_at, id "
        "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS earlier_end "
        "FROM availability_slots WHERE status <> 'canceled') AS v WHERE start_at < earlier_end",
    ),
)

PG_DUMP_LOCK_WAIT_MS = 60_000
THROWAWAY_PREFIX_CHARS = 30


class BackupError(Exception):
    """A reason a backup or its verification cannot go on, worded for the operator."""


@dataclass(frozen=True)
class PgTools:
    pg_dump: str
    pg_restore: str
    major_version: int


@dataclass
class BackupResult:
    path: Path
    size_bytes: int
    seconds: float
    tools: PgTools
    server_version: str


@dataclass
class VerifyReport:
    archive: Path
    database: str = ""
    tools: PgTools | None = None
    row_counts: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    dropped: bool = False
    migrations_checked: int = 0
    schema_objects_checked: int = 0
    invariants_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.failures


# --- the database and its client tools ---------------------------------------------------------


def database_settings(alias: str = "default") -> dict:
    """The alias's settings, refusing anything but PostgreSQL with a clear reason."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        raise BackupError(
            f"Backups need PostgreSQL; DATABASE_URL points at {connection.vendor} "
            f"({connection.settings_dict.get('NAME')}). Copy a SQLite file with `sqlite3 FILE .backup OTHER` instead."
        )
    return connection.settings_dict


def _libpq_params(settings_dict: dict, *, dbname: str | None = None) -> dict[str, str]:
    """libpq connection parameters (host, port, user, password, database, TLS options) from Django settings."""
    params = {
        "host": settings_dict.get("HOST") or "",
        "port": str(settings_dict.get("PORT") or ""),
        "user": settings_dict.get("USER") or "",
        "password": settings_dict.get("PASSWORD") or "",
        "dbname": dbname or settings_dict["NAME"],
    }
    options = settings_dict.get("OPTIONS") or {}
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name"):
        if options.get(key) not in (None, ""):
            params[key] = str(options[key])
    return {key: value for key, value in params.items() if value}


_LIBPQ_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "dbname": "PGDATABASE",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
}


def _tool_env(settings_dict: dict, *, dbname: str | None = None) -> dict[str, str]:
    """The environment pg_dump/pg_restore run with: the connection in PG* variables (no password on argv)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    for key, value in _libpq_params(settings_dict, dbname=dbname).items():
        env[_LIBPQ_ENV[key]] = value
    return env


def _connect(settings_dict: dict, *, dbname: str | None = None) -> psycopg.Connection:
    return psycopg.connect(**_libpq_params(settings_dict, dbname=dbname), autocommit=True)


def server_version(settings_dict: dict) -> tuple[int, str]:
    """(major version, version string) of the PostgreSQL server the settings point at."""
    try:
        with _connect(settings_dict) as conn:
            number = conn.execute("SHOW server_version_num").fetchone()[0]
            text = conn.execute("SHOW server_version").fetchone()[0]
    except psycopg.Error as exc:
        raise BackupError(f"Cannot connect to PostgreSQL: {str(exc).strip()}") from None
    return int(number) // 10000, text


def _tool_major(path: str) -> int | None:
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\(PostgreSQL\)\s+(\d+)", result.stdout)
    return int(match.group(1)) if result.returncode == 0 and match else None


def _candidate_bin_dirs(server_major: int, bin_dir: str | None) -> list[str]:
    if bin_dir:
        return [bin_dir]
    dirs = [
        f"/usr/lib/postgresql/{server_major}/bin",  # Debian, Ubuntu
        f"/usr/pgsql-{server_major}/bin",  # RHEL (PGDG)
        f"/opt/homebrew/opt/postgresql@{server_major}/bin",  # macOS (Homebrew)
        f"/usr/local/opt/postgresql@{server_major}/bin",
    ]
    dirs += sorted((str(p) for p in Path("/usr/lib/postgresql").glob("*/bin")), reverse=True)
    on_path = shutil.which("pg_dump")
    if on_path:
        dirs.append(str(Path(on_path).parent))
    return list(dict.fromkeys(dirs))


def find_pg_tools(*, server_major: int, bin_dir: str | None = None) -> PgTools:
    """pg_dump and pg_restore from one directory, same major as the server if installed, else newer.

    pg_dump refuses servers newer than itself, and a dump is best restored by
    the same major; so: exact match first, then the oldest newer one.
    """
    found: list[tuple[int, str, str]] = []
    for directory in _candidate_bin_dirs(server_major, bin_dir):
        dump, restore = Path(directory, "pg_dump"), Path(directory, "pg_restore")
        if not (os.access(dump, os.X_OK) and os.access(restore, os.X_OK)):
            continue
        major = _tool_major(str(dump))
        if major is not None:
            found.append((major, str(dump), str(restore)))
    usable = sorted((entry for entry in found if entry[0] >= server_major), key=lambda entry: entry[0])
    if not usable:
        seen = ", ".join(f"{dump} ({major})" for major, dump, _ in found) or "none"
        where = f"in {bin_dir}" if bin_dir else "on PATH or in /usr/lib/postgresql/*/bin"
        raise BackupError(
            f"pg_dump/pg_restore {server_major} or newer not found {where} (found: {seen}). "
            f"Install the PostgreSQL client tools, e.g. `apt-get install postgresql-client-{server_major}`."
        )
    major, dump, restore = usable[0]
    return PgTools(pg_dump=dump, pg_restore=restore, major_version=major)


def _run(argv: list[str], *, env: dict[str, str], what: str) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(argv, env=env, capture_output=True, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BackupError(f"{what} could not start: {exc}") from None
    if result.returncode != 0:
        # The tools' own "error:" lines say what went wrong; the SQL they echo after them can be pages long.
        lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        detail = "\n".join(line[:300] for line in (errors or lines)[:6]) or "(no output)"
        raise BackupError(f"{what} failed (exit {result.returncode}):\n{detail}")
    return result


# --- backup --------------------------------------------------------------------------------------


def backup_create(*, output: Path, bin_dir: str | None = None, alias: str = "default") -> BackupResult:
    """Dump the database to `output` (pg_dump custom format), atomically: a failed dump leaves no file there."""
    settings_dict = database_settings(alias)
    major, version = server_version(settings_dict)
    tools = find_pg_tools(server_major=major, bin_dir=bin_dir)
    output = output.expanduser().resolve()
    if not output.parent.is_dir():
        raise BackupError(f"The directory {output.parent} does not exist.")
    partial = output.with_name(f".{output.name}.partial-{os.getpid()}")
    started = time.monotonic()
    try:
        _run(
            [
                tools.pg_dump,
                "--format=custom",
                "--no-password",
                f"--lock-wait-timeout={PG_DUMP_LOCK_WAIT_MS}",
                f"--file={partial}",
            ],
            env=_tool_env(settings_dict),
            what="pg_dump",
        )
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(
        path=output,
        size_bytes=output.stat().st_size,
        seconds=time.monotonic() - started,
        tools=tools,
        server_version=version,
    )


# --- verify --------------------------------------------------------------------------------------


def _throwaway_name(settings_dict: dict) -> str:
    base = re.sub(r"[^a-z0-9_]", "_", str(settings_dict["NAME"]).lower())[:THROWAWAY_PREFIX_CHARS]
    return f"{base}_verify_{secrets.token_hex(4)}"


def _drop_database(settings_dict: dict, name: str, *, force: bool) -> None:
    """Drop `name`; FORCE (PostgreSQL 13+) ends sessions a killed pg_restore may have left behind."""
    statement = "DROP DATABASE IF EXISTS {} WITH (FORCE)" if force else "DROP DATABASE IF EXISTS {}"
    with _connect(settings_dict) as conn:
        conn.execute(sql.SQL(statement).format(sql.Identifier(name)))


def expected_migrations() -> set[tuple[str, str]]:
    """Every migration the code has (squashed ones as the squash), as (app label, name)."""
    return set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def expected_schema_objects() -> tuple[set[str], set[tuple[str, str]]]:
    """(named constraints and indexes, (table, column) pairs that must have a unique index) the models declare."""
    names = set(DATABASE_ONLY_CONSTRAINTS)
    unique_columns = set()
    for model in apps.get_models(include_auto_created=True):
        meta = model._meta
        if not meta.managed or meta.proxy:
            continue
        names.update(constraint.name for constraint in meta.constraints)
        names.update(index.name for index in meta.indexes if index.name)
        for model_field in meta.local_fields:
            if model_field.unique and not model_field.primary_key:
                unique_columns.add((meta.db_table, model_field.column))
    return names, unique_columns


def _check_migrations(conn: psycopg.Connection, report: VerifyReport) -> None:
    exists = conn.execute("SELECT to_regclass('public.django_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        report.failures.append("The restored database has no django_migrations table: not a GuitarOnline backup?")
        return
    applied = set(conn.execute("SELECT app, name FROM django_migrations").fetchall())
    report.migrations_checked = len(expected_migrations())
    missing = sorted(expected_migrations() - applied)
    if missing:
        shown = ", ".join(f"{app}.{name}" for app, name in missing[:10])
        more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        report.failures.append(
            f"Migrations incomplete: {len(missing)} migration(s) of this code are not applied in the backup: "
            f"{shown}{more}."
        )
    unknown = sorted(applied - expected_migrations())
    if unknown:
        shown = ", ".join(f"{app}.{name}" for app, name in unknown[:10])
        report.notes.append(f"The backup has {len(unknown)} migration(s) this code does not know ({shown}).")


def _check_schema(conn: psycopg.Connection, report: VerifyReport) -> None:
    names, unique_columns = expected_schema_objects()
    report.schema_objects_checked = len(names) + len(unique_columns)
    present = dict(
        conn.execute(
            "SELECT c.conname, c.convalidated FROM pg_constraint c "
            "JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public' "
            "UNION ALL SELECT i.relname, true FROM pg_class i "
            "JOIN pg_namespace n ON n.oid = i.relnamespace WHERE n.nspname = 'public' AND i.relkind IN ('i', 'I')"
        ).fetchall()
    )
    missing = sorted(names - present.keys())
    if missing:
        report.failures.append(f"Constraints/indexes missing: {', '.join(missing)}.")
    not_valid = sorted(name for name in names if present.get(name) is False)
    if not_valid:
        report.failures.append(f"Constraints present but NOT VALID (old rows unchecked): {', '.join(not_valid)}.")
    indexed = set(
        conn.execute(
            "SELECT t.relname, a.attname FROM pg_index x "
            "JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0] "
            "WHERE n.nspname = 'public' AND x.indisunique AND x.indisvalid AND x.indnkeyatts = 1 "
            "AND x.indpred IS NULL AND x.indexprs IS NULL"
        ).fetchall()
    )
    no_unique = sorted(f"{table}.{column}" for table, column in unique_columns - indexed)
    if no_unique:
        report.failures.append(f"Unique indexes missing on: {', '.join(no_unique)}.")


def _check_invariants(conn: psycopg.Connection, report: VerifyReport) -> None:
    report.invariants_checked = len(INVARIANT_CHECKS)
    for rule, query in INVARIANT_CHECKS:
        try:
            violations = conn.execute(query).fetchone()[0]
        except psycopg.Error as exc:
            report.failures.append(f"Invariant '{rule}' could not be checked: {str(exc).strip()}")
            continue
        if violations:
            report.failures.append(f"Invariant broken: {rule} ({violations} violating row(s)).")


def _count_rows(conn: psycopg.Connection, report: VerifyReport) -> None:
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname"
        ).fetchall()
    ]
    for table in tables:
        report.row_counts[table] = conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        ).fetchone()[0]


def _restore_list(toc: str) -> str:
    """The archive's table of contents minus COMMENT ON EXTENSION entries.

    Those need the extension's owner (a superuser), which a managed
    database's application role is not; the extension itself is still created.
    """
    return "\n".join(line for line in toc.splitlines() if not re.search(r"\bCOMMENT - EXTENSION\b", line)) + "\n"


def backup_verify(*, archive: Path, bin_dir: str | None = None, jobs: int = 1, alias: str = "default") -> VerifyReport:
    """Restore `archive` into a throwaway database, check it, drop the database; return what was found.

    Raises BackupError (with the partial report as `.report`) when the
    archive cannot be restored at all: missing, not a pg_dump archive,
    corrupt. A restore that works but breaks a rule is reported in
    `failures`. The throwaway database is dropped in every case, including an
    interrupted run (SystemExit and KeyboardInterrupt pass through the
    `finally`).
    """
    settings_dict = database_settings(alias)
    report = VerifyReport(archive=archive)
    started = time.monotonic()
    try:
        if not archive.is_file():
            raise BackupError(f"{archive} does not exist or is not a file.")
        if archive.stat().st_size == 0:
            raise BackupError(f"{archive} is empty: not a backup.")
        major, _ = server_version(settings_dict)
        report.tools = tools = find_pg_tools(server_major=major, bin_dir=bin_dir)
        env = _tool_env(settings_dict)
        try:
            toc = _run([tools.pg_restore, "--list", str(archive)], env=env, what="pg_restore --list").stdout
        except BackupError as exc:
            raise BackupError(f"{archive} is not a readable pg_dump custom-format archive. {exc}") from None
        _restore_into_throwaway(
            settings_dict, archive=archive, toc=toc, tools=tools, jobs=jobs, report=report, major=major
        )
    except BackupError as exc:
        exc.report = report
        raise
    finally:
        report.timings["total"] = time.monotonic() - started
    return report


def _restore_into_throwaway(
    settings_dict: dict, *, archive: Path, toc: str, tools: PgTools, jobs: int, report: VerifyReport, major: int
) -> None:
    """Create the throwaway database, restore into it, run the checks, and drop it whatever happened."""
    report.database = name = _throwaway_name(settings_dict)
    created = True  # until the server says otherwise: an interruption (SIGTERM) mid-CREATE may leave it behind
    try:
        try:
            with _connect(settings_dict) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            created = False
            raise BackupError(
                f"Cannot create the throwaway database {name}: {str(exc).strip()} "
                "(verify_backup needs a role allowed to CREATE DATABASE)."
            ) from None
        restore_started = time.monotonic()
        with tempfile.NamedTemporaryFile("w", prefix="restore-list-", suffix=".txt") as restore_list:
            restore_list.write(_restore_list(toc))
            restore_list.flush()
            argv = [tools.pg_restore, "--no-owner", "--no-privileges", "--exit-on-error", "--no-password"]
            argv += [f"--jobs={jobs}"] if jobs > 1 else ["--single-transaction"]
            argv += [f"--use-list={restore_list.name}", f"--dbname={name}", str(archive)]
            try:
                _run(argv, env=_tool_env(settings_dict, dbname=name), what="pg_restore")
            except BackupError as exc:
                raise BackupError(f"The archive could not be restored: it is damaged or incomplete. {exc}") from None
        report.timings["restore"] = time.monotonic() - restore_started

        checks_started = time.monotonic()
        with _connect(settings_dict, dbname=name) as conn:
            _check_migrations(conn, report)
            _check_schema(conn, report)
            _check_invariants(conn, report)
            _count_rows(conn, report)
        report.timings["checks"] = time.monotonic() - checks_started
    finally:
        drop_started = time.monotonic()
        try:
            if created:
                _drop_database(settings_dict, name, force=major >= 13)
                report.dropped = True
        except psycopg.Error as exc:
            report.failures.append(
                f"Could not drop the throwaway database {name}: {str(exc).strip()}. "
                f"Drop it by hand: DROP DATABASE {name};"
            )
        report.timings["drop"] = time.monotonic() - drop_started
