from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.admin_ops.backups import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Dump the database to FILE with pg_dump (custom format; restore with pg_restore). "
        "Uses the client tools matching the server's major version. Check the file with verify_backup."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", required=True, type=Path, help="the archive to write (replaced atomically)")
        parser.add_argument("--pg-bin-dir", help="directory holding pg_dump/pg_restore (default: found by version)")

    def handle(self, *args, **options):
        try:
            result = backup_create(output=options["output"], bin_dir=options["pg_bin_dir"])
        except BackupError as exc:
            raise CommandError(f"Backup failed: {exc}") from None
        self.stdout.write(
            f"Backed up PostgreSQL {result.server_version} to {result.path}: "
            f"{result.size_bytes / 1_048_576:.1f} MiB in {result.seconds:.1f} s (pg_dump {result.tools.major_version}, "
            f"{result.tools.pg_dump})."
        )
