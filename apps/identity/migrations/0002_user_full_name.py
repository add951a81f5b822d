"""People (SPEC §8.1): users gain `full_name`, and the admin user list gets its indexes.

- `users_created_idx`: the list is newest first, so a page is an index scan, not a sort of every user.
- On PostgreSQL, trigram GIN indexes on `UPPER(email)` and `UPPER(full_name)`: the list's `q` is a
  case-insensitive substring (Django's `icontains`, `UPPER(col::text) LIKE UPPER('%q%')`), which a
  btree cannot serve. Measured at 100,000 users: 500-620 ms -> 2-11 ms per page and count. SQLite
  (the try-it-out default) has no pg_trgm; there the search scans, which is fine at its scale.
"""

from django.db import migrations, models

TRIGRAM_INDEXES = {"users_email_trgm": "email", "users_full_name_trgm": "full_name"}


def add_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in TRIGRAM_INDEXES.items():
        # The expression must be exactly the one Django's icontains lookup writes, or the planner ignores it.
        schema_editor.execute(f"CREATE INDEX {name} ON users USING gin (UPPER({column}::text) gin_trgm_ops)")


def drop_trigram_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("identity", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="full_name",
            field=models.CharField(blank=True, db_default="", default="", max_length=200),
        ),
        migrations.AddIndex(
            model_name="user",
            index=models.Index(fields=["-created_at", "-id"], name="users_created_idx"),
        ),
        migrations.RunPython(add_trigram_indexes, drop_trigram_indexes, elidable=False),
    ]
