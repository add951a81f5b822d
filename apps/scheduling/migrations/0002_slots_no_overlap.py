"""A teacher's non-canceled slots never overlap: an exclusion constraint on PostgreSQL.

SQLite has no exclusion constraints; there the service's own overlap check
(under the teacher's row lock) is the guard, so this migration does nothing.
"""

from django.db import migrations

CONSTRAINT = "availability_slots_no_overlap"


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE availability_slots ADD CONSTRAINT {CONSTRAINT} "
        "EXCLUDE USING gist (teacher_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
        "WHERE (status <> 'canceled')"
    )


def drop_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE availability_slots DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(add_constraint, drop_constraint, elidable=False)]
