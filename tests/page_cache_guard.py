"""Two suite-wide checks of the list page cache (apps/common/page_cache.py), used as autouse fixtures.

1. **Every cache hit is fresh.** Whenever a list page is served from the cache
   (tests that run in autocommit, `transaction=True`), the page is computed
   again from the database and must be equal: a write that forgot to bump the
   right scope fails the test that reads after it.
2. **Every write that changes a cached list bumps that list.** SQL that
   inserts, deletes or updates (at least one row, in a shown column) a listed table (bookings,
   lessons, lesson packages, notifications) from application code must be
   accompanied by a `scopes_changed` call for that list in the same request
   (or, outside requests, the same test). This runs in every test, also the
   ones whose reads bypass the cache (inside the test's transaction), so a new
   write path (a cascade, a command, an admin action) that forgets is caught
   by its own tests. Rows written by tests and factories are not checked.
"""

import re
import sys
import threading
from pathlib import Path

from django.core.signals import request_finished, request_started
from django.db import connection

from apps.billing.selectors import PACKAGE_LISTS
from apps.billing.serializers import PackageSerializer
from apps.booking.selectors import BOOKING_LISTS
from apps.booking.serializers import BookingSerializer
from apps.common import page_cache
from apps.lessons.selectors import LESSON_LISTS
from apps.lessons.serializers import LessonSerializer
from apps.notifications.selectors import NOTIFICATION_LISTS
from apps.notifications.serializers import NotificationSerializer

APPS_DIR = str(Path(__file__).resolve().parent.parent / "apps")


def _shown_columns(serializer_class) -> frozenset[str]:
    model = serializer_class.Meta.model
    names = set(serializer_class().fields)
    fields = model._meta.concrete_fields
    return frozenset(field.column for field in fields if field.attname in names or field.name in names)


# table -> (the list its rows appear in, the columns that list shows)
LISTED_TABLES = {
    "bookings": (BOOKING_LISTS, _shown_columns(BookingSerializer)),
    "lessons": (LESSON_LISTS, _shown_columns(LessonSerializer)),
    "lesson_packages": (PACKAGE_LISTS, _shown_columns(PackageSerializer)),
    "notifications": (NOTIFICATION_LISTS, _shown_columns(NotificationSerializer)),
}
_WRITE = re.compile(r'^\s*(INSERT INTO|UPDATE|DELETE FROM)\s+"(\w+)"', re.IGNORECASE)
_SET_COLUMN = re.compile(r'(?:\bSET|,)\s*"(\w+)"\s*=')


def _changed_list(sql: str) -> str | None:
    """The list a statement changes, or None (another table, or an UPDATE of columns no list shows)."""
    match = _WRITE.match(sql)
    if not match or match.group(2) not in LISTED_TABLES:
        return None
    name, shown = LISTED_TABLES[match.group(2)]
    if match.group(1).upper() == "UPDATE":
        assignments = sql[match.end() : sql.upper().find(" WHERE ")] if " WHERE " in sql.upper() else sql
        if not shown & set(_SET_COLUMN.findall(assignments)):
            return None
    return name


def _app_frame() -> str | None:
    """`file:line` of the innermost application frame on the stack (not tests, not factories), or None."""
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith(APPS_DIR) and "/tests/" not in filename:
            return f"{filename[len(APPS_DIR) - 4 :]}:{frame.f_lineno}"
        frame = frame.f_back
    return None


class ListWriteWatch:
    """Pairs the listed-table writes application code makes with the lists it bumps."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()  # the test's thread; other threads' requests are not paired
        self.writes: dict[str, str] = {}  # list name -> where the first write came from
        self.bumped: set[str] = set()
        self.problems: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)  # a statement that raised changed nothing
        name = _changed_list(sql) if isinstance(sql, str) else None
        if name is not None and name not in self.writes and context["cursor"].rowcount != 0:
            where = _app_frame()
            if where is not None:
                self.writes[name] = where
        return result

    def on_change(self, scopes: tuple[str, ...]) -> None:
        if threading.get_ident() == self.thread:
            self.bumped.update(scope.partition(":")[0] for scope in scopes)

    def settle(self, when: str) -> None:
        if threading.get_ident() != self.thread:
            return
        for name, where in self.writes.items():
            if name not in self.bumped:
                self.problems.append(
                    f"{when}: {where} wrote rows of the {name!r} list without scopes_changed() for it "
                    f"(cached {name} pages would go stale)"
                )
        self.writes.clear()
        self.bumped.clear()


def watch_list_writes():
    """Generator body of the autouse fixture: check 2 above, for the test's main-thread connection."""
    watch = ListWriteWatch()

    def started(**kwargs):
        watch.settle("before a request")

    def finished(**kwargs):
        watch.settle("in a request")

    previous = page_cache.on_change
    page_cache.on_change = watch.on_change
    request_started.connect(started, dispatch_uid="page-cache-guard-started")
    request_finished.connect(finished, dispatch_uid="page-cache-guard-finished")
    try:
        with connection.execute_wrapper(watch):
            yield watch
        watch.settle("in the test")
    finally:
        page_cache.on_change = previous
        request_started.disconnect(dispatch_uid="page-cache-guard-started")
        request_finished.disconnect(dispatch_uid="page-cache-guard-finished")
    assert not watch.problems, "\n".join(watch.problems)


class HitCheck:
    """Recomputes every page served from the cache; counts hits so tests can tell a hit happened."""

    def __init__(self) -> None:
        self.hits = 0
        self.stale: list[str] = []

    def __call__(self, scope: str, key: tuple, page: dict, compute) -> None:
        self.hits += 1
        fresh = compute()
        if page != fresh:
            self.stale.append(f"stale cached page for scope {scope!r}, key {key!r}:\ncached {page}\nfresh  {fresh}")
            raise AssertionError(self.stale[-1])  # inside a request this becomes a 500; the fixture reports it


def check_cache_hits():
    """Generator body of the autouse fixture: check 1 above."""
    check = HitCheck()
    previous = page_cache.on_hit
    page_cache.on_hit = check
    try:
        yield check
    finally:
        page_cache.on_hit = previous
    assert not check.stale, "\n".join(check.stale)
