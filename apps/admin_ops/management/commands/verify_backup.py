import signal
from contextlib import contextmanager
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.admin_ops.backups import BackupError, VerifyReport, backup_verify


@contextmanager
def _sigterm_unwinds():
    """SIGTERM (a cron timeout, `kill`) unwinds like Ctrl-C, so the throwaway database is still dropped."""

    def unwind(signum, frame):
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, unwind)
    except ValueError:  # not the main thread (e.g. called from a test thread): nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Command(BaseCommand):
    help = (
        "Restore a backup_db archive into a throwaway database and check it: migrations complete, "
        "constraints and indexes present, the SPEC §7 invariants hold; print row counts and timings; "
        "drop the database. Exits non-zero on any problem."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", type=Path, help="a pg_dump custom-format archive (from backup_db)")
        parser.add_argument("--pg-bin-dir", help="directory holding pg_dump/pg_restore (default: found by version)")
        parser.add_argument("--jobs", type=int, default=1, help="parallel pg_restore jobs (default 1)")

    def handle(self, *args, **options):
        archive = options["archive"].expanduser().resolve()
        if options["jobs"] < 1:
            raise CommandError("--jobs must be at least 1.")
        with _sigterm_unwinds():
            try:
                report = backup_verify(archive=archive, bin_dir=options["pg_bin_dir"], jobs=options["jobs"])
            except BackupError as exc:
                self._print(getattr(exc, "report", None))
                raise CommandError(f"Backup verification FAILED: {exc}") from None
        self._print(report)
        if not report.ok:
            problems = "\n".join(f"  - {failure}" for failure in report.failures)
            raise CommandError(f"Backup verification FAILED: {len(report.failures)} problem(s):\n{problems}")
        self.stdout.write(self.style.SUCCESS(f"Backup OK: {archive}"))

    def _print(self, report: VerifyReport | None) -> None:
        if report is None:
            return
        write = self.stdout.write
        if report.database:
            tools = f" with {report.tools.pg_restore}" if report.tools else ""
            done = "Restored" if "restore" in report.timings else "Restore attempted:"
            write(f"{done} {report.archive} into throwaway database {report.database}{tools}.")
        if report.row_counts:
            width = max(len(table) for table in report.row_counts)
            write("Rows per table:")
            for table, count in report.row_counts.items():
                write(f"  {table:<{width}}  {count:>12,}")
            write(f"  {'total':<{width}}  {sum(report.row_counts.values()):>12,}")
        if report.migrations_checked:
            write(
                f"Checked: {report.migrations_checked} migrations, {report.schema_objects_checked} constraints "
                f"and indexes, {report.invariants_checked} invariants."
            )
        for note in report.notes:
            write(f"Note: {note}")
        if report.timings:
            order = ("restore", "checks", "drop", "total")
            write("Time: " + ", ".join(f"{key} {report.timings[key]:.1f} s" for key in order if key in report.timings))
        if report.database:
            write(
                f"Throwaway database {report.database} dropped."
                if report.dropped
                else f"Throwaway database {report.database} NOT dropped: drop it by hand."
            )
