"""The migration that adds `refunded_at` applies to a database that already holds refunded payments."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.identity.tests.factories import StudentFactory

BEFORE = ("billing", "0003_lessonpackage_packages_status_idx_and_more")
AFTER = ("billing", "0004_plans_package_plan_payment_refunded_at")


@pytest.mark.django_db(transaction=True)
def test_refunded_payments_get_refunded_at_from_their_last_change():
    student_id = StudentFactory().pk  # users are not billing's: their table stays as it is
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])
    try:
        # billing's tables as they were before 0004: raw SQL, since the models already have the new columns
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO lesson_packages (id, student_id, lessons_total, lessons_left, lessons_reserved,"
                " expires_at, status, created_at, updated_at)"
                " VALUES (gen_random_uuid(), %s, 5, 5, 0, now() + interval '30 days', 'active', now(), now())"
                " RETURNING id",
                [student_id],
            )
            (package_id,) = cursor.fetchone()
            for status, updated_at in (("refunded", "2026-03-01T10:00:00Z"), ("succeeded", "2026-03-02T10:00:00Z")):
                cursor.execute(
                    "INSERT INTO payments (id, package_id, amount, currency, status, paid_at, created_at, updated_at)"
                    " VALUES (gen_random_uuid(), %s, 10, 'USD', %s, %s, %s, %s)",
                    [package_id, status, updated_at, updated_at, updated_at],
                )
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

    with connection.cursor() as cursor:
        cursor.execute("SELECT status, refunded_at = updated_at, refunded_at IS NULL FROM payments ORDER BY status")
        assert cursor.fetchall() == [("refunded", True, False), ("succeeded", None, True)]
    assert AFTER in MigrationExecutor(connection).loader.applied_migrations
