"""`python manage.py run_outbox_worker [--loop]`: turn outbox events into delivered notifications."""

import logging
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.notifications import worker

logger = logging.getLogger("apps.notifications.worker")


class Command(BaseCommand):
    help = "Process pending outbox events into notifications and deliver them (one cycle, or --loop)."

    def add_arguments(self, parser):
        parser.add_argument("--loop", action="store_true", default=None, help="Run until SIGTERM/SIGINT.")
        parser.add_argument("--poll-seconds", type=float, help="Sleep between cycles in loop mode.")
        parser.add_argument("--batch-size", type=int, help="Events (and notifications) per cycle.")
        parser.add_argument("--max-retries", type=int, help="Failures before an event is dead-lettered.")
        parser.add_argument("--base-backoff-seconds", type=float, help="First retry delay.")
        parser.add_argument("--max-backoff-seconds", type=float, help="Retry delay cap.")

    def handle(self, *args, **options):
        # Flags first, then settings (which read OUTBOX_WORKER_* from the environment).
        loop = options["loop"] or str(settings.OUTBOX_WORKER_MODE).strip().lower() == "loop"
        poll_seconds = _pick(options["poll_seconds"], settings.OUTBOX_WORKER_POLL_SECONDS)
        cycle = {
            "batch_size": _pick(options["batch_size"], settings.OUTBOX_WORKER_BATCH_SIZE),
            "max_retries": _pick(options["max_retries"], settings.OUTBOX_WORKER_MAX_RETRIES),
            "base_backoff_seconds": _pick(options["base_backoff_seconds"], settings.OUTBOX_WORKER_BASE_BACKOFF_SECONDS),
            "max_backoff_seconds": _pick(options["max_backoff_seconds"], settings.OUTBOX_WORKER_MAX_BACKOFF_SECONDS),
        }
        _validate(poll_seconds=poll_seconds, **cycle)

        if not loop:
            stats = worker.run_cycle(**cycle)
            self.stdout.write(
                f"requeued={stats.requeued} processed={stats.processed} failed={stats.failed} "
                f"dispatched={stats.dispatched} delivery_failed={stats.delivery_failed}"
            )
            return

        stop = {"requested": False}

        def request_stop(signum, frame):
            # The running batch finishes; the loop ends before the next one.
            logger.info("outbox worker got signal %s; stopping after the current batch", signum)
            stop["requested"] = True

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        logger.info("outbox worker loop started (poll %.1fs, %s)", poll_seconds, cycle)
        cycles = worker.run_worker_loop(should_stop=lambda: stop["requested"], poll_seconds=poll_seconds, **cycle)
        logger.info("outbox worker loop stopped after %d cycles", cycles)
        self.stdout.write(f"stopped after {cycles} cycles")


def _pick(flag, setting):
    return setting if flag is None else flag


def _validate(*, poll_seconds, batch_size, max_retries, base_backoff_seconds, max_backoff_seconds) -> None:
    if batch_size < 1:
        raise CommandError("--batch-size must be >= 1.")
    if max_retries < 1:
        raise CommandError("--max-retries must be >= 1.")
    if poll_seconds < 0 or base_backoff_seconds < 0 or max_backoff_seconds < 0:
        raise CommandError("--poll-seconds and the back-off seconds must be >= 0.")
