"""PostgreSQL triggers that keep the KPI counters (SPEC §3 KPI overview) in step with their tables.

For users (by role), bookings, lessons, lesson packages (by status) and payments
(by status, with amounts) an AFTER INSERT / UPDATE / DELETE statement trigger
appends the net change per metric to kpi_counter_deltas, from the statement's
transition tables: one INSERT per statement whatever its row count, and none when
an UPDATE leaves the counted column alone. Existing rows are counted into
kpi_counter_totals here. SQLite has no such triggers: there the overview counts rows.
"""

from django.db import migrations

# (table, metric prefix, counted column, summed amount column or None)
TRACKED = [
    ("users", "users", "role", None),
    ("bookings", "bookings", "status", None),
    ("lessons", "lessons", "status", None),
    ("lesson_packages", "packages", "status", None),
    ("payments", "payments", "status", "amount"),
]


def _changes(prefix: str, column: str, amount: str | None, rows: str, sign: str) -> str:
    """SELECT (metric, delta) rows of one transition table, `sign` '' or '-'."""
    parts = [f"SELECT '{prefix}:' || {column} AS metric, {sign}1::numeric AS delta FROM {rows}"]
    if amount:
        parts.append(f"SELECT '{prefix}_amount:' || {column}, {sign}{amount} FROM {rows}")
    return " UNION ALL ".join(parts)


def _function(table: str, prefix: str, column: str, amount: str | None) -> str:
    inserted = _changes(prefix, column, amount, "new_rows", "")
    deleted = _changes(prefix, column, amount, "old_rows", "-")
    fold = "SELECT metric, sum(delta) FROM ({}) AS changes GROUP BY metric HAVING sum(delta) <> 0"
    return f"""
CREATE OR REPLACE FUNCTION kpi_track_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO kpi_counter_deltas (metric, delta) {fold.format(inserted)};
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO kpi_counter_deltas (metric, delta) {fold.format(deleted)};
    ELSE
        INSERT INTO kpi_counter_deltas (metric, delta) {fold.format(inserted + " UNION ALL " + deleted)};
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER kpi_track_{table}_insert AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kpi_track_{table}();
CREATE TRIGGER kpi_track_{table}_update AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kpi_track_{table}();
CREATE TRIGGER kpi_track_{table}_delete AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION kpi_track_{table}();
INSERT INTO kpi_counter_totals (metric, value)
    SELECT metric, sum(delta) FROM ({_changes(prefix, column, amount, table, "")}) AS existing GROUP BY metric;
"""


def _drop(table: str) -> str:
    return (
        "".join(
            f"DROP TRIGGER IF EXISTS kpi_track_{table}_{event} ON {table};" for event in ("insert", "update", "delete")
        )
        + f"DROP FUNCTION IF EXISTS kpi_track_{table}();"
    )


def create_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for tracked in TRACKED:
        schema_editor.execute(_function(*tracked))


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, *_ in TRACKED:
        schema_editor.execute(_drop(table))
    schema_editor.execute("DELETE FROM kpi_counter_deltas; DELETE FROM kpi_counter_totals;")


class Migration(migrations.Migration):
    dependencies = [
        ("admin_ops", "0003_kpi_counters"),
        ("identity", "0001_initial"),
        ("booking", "0003_booking_bookings_status_idx"),
        ("lessons", "0002_lesson_lessons_status_idx"),
        ("billing", "0003_lessonpackage_packages_status_idx_and_more"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
