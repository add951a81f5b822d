"""`python manage.py requeue_outbox_events [--dead-letter] [--event-id ID ...]`."""

import uuid

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.notifications.services import outbox_events_requeue


class Command(BaseCommand):
    help = (
        "Put failed outbox events back to pending with retries reset: every failed event, "
        "only dead letters (--dead-letter), or the given ids (--event-id)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dead-letter", action="store_true", help="Only events with retries >= max retries (dead letters)."
        )
        parser.add_argument("--event-id", nargs="+", action="extend", default=None, help="Only these event ids.")
        parser.add_argument(
            "--max-retries", type=int, default=None, help="Dead-letter threshold (default OUTBOX_WORKER_MAX_RETRIES)."
        )

    def handle(self, *args, **options):
        event_ids = None
        if options["event_id"]:
            try:
                event_ids = [uuid.UUID(raw) for raw in options["event_id"]]
            except ValueError as exc:
                raise CommandError(f"--event-id must be UUIDs: {exc}") from None
        max_retries = options["max_retries"] or settings.OUTBOX_WORKER_MAX_RETRIES
        count = outbox_events_requeue(
            event_ids=event_ids, dead_letter_only=options["dead_letter"], max_retries=max_retries
        )
        self.stdout.write(f"requeued {count}")
