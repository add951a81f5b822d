"""`python manage.py generate_slots [--weeks N]`: cron's daily slot generation from the weekly schedules."""

import logging
import zoneinfo
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from apps.common import clock
from apps.common.errors import DomainError
from apps.scheduling.errors import ScheduleNotFound, TeacherNotBookable, TeacherNotFound
from apps.scheduling.selectors import schedules_due_for_generation
from apps.scheduling.services import GenerateCounts, schedule_generate

logger = logging.getLogger(__name__)

MAX_WEEKS = 13  # 91 days: within generate's 92-day bound


class Command(BaseCommand):
    help = (
        "Generate open slots from every approved teacher's weekly schedule, from today (in the schedule's time "
        "zone) up to N weeks ahead (cron, daily; safe beside the API and another copy)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--weeks", type=int, default=4, help=f"weeks ahead, today included (1..{MAX_WEEKS})")

    def handle(self, *args, weeks: int, **options):
        if not 1 <= weeks <= MAX_WEEKS:
            raise CommandError(f"--weeks must be between 1 and {MAX_WEEKS}.")
        totals, teachers, failed = GenerateCounts(), 0, []
        for teacher_id, timezone in schedules_due_for_generation():
            today = clock.now().astimezone(zoneinfo.ZoneInfo(timezone)).date()
            try:
                counts = schedule_generate(
                    actor=None, teacher_id=teacher_id, from_date=today, to_date=today + timedelta(days=7 * weeks - 1)
                )
            except (TeacherNotBookable, ScheduleNotFound, TeacherNotFound):
                continue  # disabled or changed since the list was read: no longer due
            except (DomainError, DatabaseError) as exc:
                # One teacher's trouble (say a lock timeout) must not stop the rest; the exit code tells cron.
                logger.warning("generate_slots: teacher %s skipped: %s", teacher_id, exc)
                failed.append(str(teacher_id))
                continue
            totals += counts
            teachers += 1
        self.stdout.write(
            f"Generated slots for {teachers} teacher(s): created {totals.created}, "
            f"skipped_existing {totals.skipped_existing}, skipped_past {totals.skipped_past}."
        )
        if failed:
            raise CommandError(f"{len(failed)} teacher(s) skipped (see the log): {', '.join(failed)}")
