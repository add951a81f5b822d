"""KPI counters kept by the database (PostgreSQL), so the KPI overview costs the same at any size.

Triggers (migration admin_ops/0004) append every change of a counted column to
`kpi_counter_deltas` in the writer's own transaction: the counters are exact
at every commit, with no shared row to wait on. Reading sums the folded totals
and the pending deltas in one statement (one snapshot, so a concurrent fold is
seen whole or not at all). `compact_kpi_counters` (cron, every minute) folds the
deltas into `kpi_counter_totals`, keeping that read small.

TRUNCATE fires no row or statement trigger here: after truncating a counted
table by hand, run `compact_kpi_counters --rebuild`.
"""

from decimal import Decimal

from django.db import connection, transaction

from apps.admin_ops.models import KpiCounterDelta, KpiCounterTotal

COUNTED_TABLES = ("users", "bookings", "lessons", "lesson_packages", "payments")

_READ = """
SELECT metric, sum(value) FROM (
    SELECT metric, value FROM kpi_counter_totals
    UNION ALL
    SELECT metric, delta FROM kpi_counter_deltas
) AS counters GROUP BY metric
"""

# The counters recomputed from the rows themselves (what the triggers must agree with).
_RECOUNT = """
SELECT 'users:' || role, count(*) FROM users GROUP BY role
UNION ALL SELECT 'bookings:' || status, count(*) FROM bookings GROUP BY status
UNION ALL SELECT 'lessons:' || status, count(*) FROM lessons GROUP BY status
UNION ALL SELECT 'packages:' || status, count(*) FROM lesson_packages GROUP BY status
UNION ALL SELECT 'payments:' || status, count(*) FROM payments GROUP BY status
UNION ALL SELECT 'payments_amount:' || status, sum(amount) FROM payments GROUP BY status
"""

_FOLD = """
WITH moved AS (DELETE FROM kpi_counter_deltas RETURNING metric, delta)
INSERT INTO kpi_counter_totals (metric, value)
    SELECT metric, sum(delta) FROM moved GROUP BY metric
ON CONFLICT (metric) DO UPDATE SET value = kpi_counter_totals.value + EXCLUDED.value
"""

# Folds serialize on this advisory lock (two folds could otherwise upsert the same totals in
# different orders); writers never take it.
_FOLD_LOCK_KEY = 7_514_220_301


def counters_supported() -> bool:
    return connection.vendor == "postgresql"


def _as_dict(rows) -> dict[str, Decimal]:
    return {metric: Decimal(value) for metric, value in rows if value}


def counters_read() -> dict[str, Decimal]:
    """Every counter (`bookings:hold`, `payments_amount:refunded`...) as of one snapshot; absent means 0."""
    with connection.cursor() as cursor:
        cursor.execute(_READ)
        return _as_dict(cursor.fetchall())


def counters_recount() -> dict[str, Decimal]:
    """The same counters counted from the rows (full scans): the check the triggers must pass."""
    with connection.cursor() as cursor:
        cursor.execute(_RECOUNT)
        return _as_dict(cursor.fetchall())


def counters_fold() -> int:
    """Fold pending deltas into the totals; returns how many delta rows were folded (0 if another fold runs)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_FOLD_LOCK_KEY])
        if not cursor.fetchone()[0]:
            return 0
        pending = KpiCounterDelta.objects.count()
        cursor.execute(_FOLD)
        return pending


def counters_rebuild() -> dict[str, Decimal]:
    """Recount every counter from its table, with writes to the counted tables paused for the recount."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_FOLD_LOCK_KEY])
        # SHARE mode lets readers through and makes writers wait until this transaction ends.
        cursor.execute(f"LOCK TABLE {', '.join(COUNTED_TABLES)} IN SHARE MODE")
        KpiCounterDelta.objects.all().delete()
        KpiCounterTotal.objects.all().delete()
        counts = counters_recount()
        KpiCounterTotal.objects.bulk_create(KpiCounterTotal(metric=m, value=v) for m, v in counts.items())
        return counts
