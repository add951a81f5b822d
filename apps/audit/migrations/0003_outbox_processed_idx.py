"""The index `prune_outbox_events` reads: processed events by processed_at.

Built with CREATE INDEX CONCURRENTLY on PostgreSQL, so adding it to a large
outbox does not block the inserts every domain write makes; plainly elsewhere.
"""

from django.db import migrations, models

INDEX = models.Index(fields=["processed_at"], name="outbox_processed_idx", condition=models.Q(status="processed"))


def add_index(apps, schema_editor):
    model = apps.get_model("audit", "OutboxEvent")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.add_index(model, INDEX, concurrently=True)
    else:
        schema_editor.add_index(model, INDEX)


def remove_index(apps, schema_editor):
    model = apps.get_model("audit", "OutboxEvent")
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(model, INDEX, concurrently=True)
    else:
        schema_editor.remove_index(model, INDEX)


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("audit", "0002_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="outboxevent", index=INDEX)],
            database_operations=[migrations.RunPython(add_index, remove_index, elidable=False)],
        )
    ]
