"""Row locks with the rules that keep them safe (after pretix's locking module).

* Locks are only taken inside a transaction; outside one they would be
  released at once and protect nothing.
* Rows of one model are locked in primary-key order, and callers lock models in
  one global order (teacher's user row -> teacher profile -> slot -> package ->
  booking -> lesson -> payment), so two requests never wait on each other in a
  cycle. A lock taken out of that order must not wait (NOWAIT), since a lock
  that never waits cannot close a cycle.
* On PostgreSQL a short `lock_timeout` (DB_LOCK_TIMEOUT_MS, set on every
  connection when it opens) turns a stuck lock into a clean 409 instead of a
  hung request.
"""

from django.conf import settings
from django.db import connection, transaction

from apps.common.queries import one_or_none
from apps.common.sql import get_by_pk

LOCK_TIMEOUT_MS = 5000


def require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Row locks must be taken inside transaction.atomic().")


def set_lock_timeout(milliseconds: int | None = None) -> None:
    """Bound how long this transaction waits for any row lock (PostgreSQL only).

    Every PostgreSQL connection already starts with `lock_timeout = DB_LOCK_TIMEOUT_MS`
    (settings, at connect time), so asking for that costs nothing; another value is
    set for this transaction only (`SET LOCAL`).
    """
    require_transaction()
    configured = getattr(settings, "DB_LOCK_TIMEOUT_MS", LOCK_TIMEOUT_MS)
    if connection.vendor == "postgresql" and milliseconds is not None and milliseconds != configured:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(milliseconds)}ms"])


def lock_row(model, pk):
    """Lock and return one row of `model` by primary key, or None: the hot path's `lock_one`.

    The same `SELECT ... FOR UPDATE` as `lock_one(model.objects.all(), pk)`, written
    once per model instead of compiled per call (apps/common/sql.py).
    """
    require_transaction()
    return get_by_pk(model, pk, lock="FOR UPDATE" if connection.features.has_select_for_update else "")


def lock_one(queryset, pk):
    """Lock and return one row by primary key, or None if it does not exist."""
    require_transaction()
    return one_or_none(queryset.select_for_update().filter(pk=pk))


def lock_many(queryset):
    """Lock every row of `queryset` in primary-key order and return them as a list."""
    require_transaction()
    return list(queryset.select_for_update().order_by("pk"))
