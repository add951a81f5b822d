"""Fold the KPI counter deltas into their totals (cron, every minute); or check / rebuild the counters."""

from django.core.management.base import BaseCommand, CommandError

from apps.admin_ops import kpi_counters


class Command(BaseCommand):
    help = (
        "Fold pending KPI counter deltas into the totals (PostgreSQL, cron). "
        "--check compares the counters with a recount; --rebuild recounts them."
    )

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--check", action="store_true", help="Exit 1 when the counters differ from a recount.")
        action.add_argument(
            "--rebuild", action="store_true", help="Recount every counter from its table (pauses writes briefly)."
        )

    def handle(self, *args, check: bool, rebuild: bool, **options):
        if not kpi_counters.counters_supported():
            self.stdout.write("KPI counters are kept on PostgreSQL only; nothing to do.")
            return
        if rebuild:
            counters = kpi_counters.counters_rebuild()
            self.stdout.write(f"Rebuilt {len(counters)} KPI counters.")
        elif check:
            kept, counted = kpi_counters.counters_read(), kpi_counters.counters_recount()
            drift = {
                m: (kept.get(m, 0), counted.get(m, 0))
                for m in kept.keys() | counted.keys()
                if kept.get(m, 0) != counted.get(m, 0)
            }
            if drift:
                raise CommandError(f"KPI counters differ from a recount (kept, counted): {drift}")
            self.stdout.write(f"KPI counters agree with a recount ({len(kept)} counters).")
        else:
            self.stdout.write(f"Folded {kpi_counters.counters_fold()} KPI counter deltas.")
