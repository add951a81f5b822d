"""Identity reads called directly: the admin user list's search uses its indexes on PostgreSQL."""

import pytest
from django.db import connection

from apps.identity.selectors import user_list
from apps.identity.tests.factories import StudentFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("column", ["email", "full_name"])
def test_q_search_can_use_the_trigram_indexes(column):
    """The index expression must be what `icontains` writes (`UPPER(col::text) LIKE ...`), or it is dead weight."""
    if connection.vendor != "postgresql":
        pytest.skip("pg_trgm is PostgreSQL's")
    StudentFactory.create_batch(3, full_name="Someone")
    with connection.cursor() as cursor:
        # A tiny table: leave the planner only bitmap scans, to see which indexes the filter can use.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")

    plan = user_list(q="someone").explain()

    assert f"users_{column}_trgm" in plan, plan


def test_unfiltered_page_reads_the_created_index():
    if connection.vendor != "postgresql":
        pytest.skip("plans are PostgreSQL's")
    StudentFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")

    plan = user_list()[:20].explain()

    assert "users_created_idx" in plan, plan
