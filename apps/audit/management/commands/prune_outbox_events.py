from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from apps.audit.services import OUTBOX_PRUNE_BATCH_SIZE, outbox_events_prune
from apps.common import clock


class Command(BaseCommand):
    help = (
        "Delete processed outbox events older than N days (cron, daily), in small batches. "
        "Pending and failed events are never touched. Safe beside the worker and another copy."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than-days",
            type=int,
            default=30,
            help="prune events processed more than this many days ago (default 30, at least 1)",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=OUTBOX_PRUNE_BATCH_SIZE,
            help=f"rows deleted per transaction (default {OUTBOX_PRUNE_BATCH_SIZE})",
        )

    def handle(self, *args, **options):
        days = options["older_than_days"]
        batch_size = options["batch_size"]
        if days < 1:
            raise CommandError("--older-than-days must be at least 1.")
        if not 1 <= batch_size <= 50_000:
            raise CommandError("--batch-size must be between 1 and 50000.")
        cutoff = clock.now() - timedelta(days=days)
        pruned = outbox_events_prune(processed_before=cutoff, batch_size=batch_size)
        self.stdout.write(
            f"Pruned {pruned} processed outbox events older than {days} days (processed before {cutoff.isoformat()})."
        )
