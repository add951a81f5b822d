"""The page cache's protocol (apps/common/page_cache.py), through a cached list endpoint where it can be.

The per-list write paths are in tests/test_list_caches.py; every test of the
suite also checks each cache hit against the database (tests/page_cache_guard.py).
"""

import threading
import uuid

import pytest
from django.core.cache import cache
from django.db import connection, transaction

from apps.billing.tests.factories import PackageFactory
from apps.booking.services import booking_hold
from apps.booking.tests.factories import future_slot
from apps.common import page_cache
from apps.identity.tests.factories import StudentFactory
from apps.notifications.tests.factories import NotificationFactory
from tests.process_helpers import free_port

MY_BOOKINGS = "/api/v1/booking/my"
MY_NOTIFICATIONS = "/api/v1/notifications/my"


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["items"]]


# --- the generation protocol --------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_page_read_while_a_write_is_uncommitted_is_retired_by_its_commit(client_for, _page_cache_hits_are_fresh):
    """The reader files the pre-commit page under the generation it read first; the commit bumps it."""
    student = StudentFactory()
    package = PackageFactory(student=student)
    slot = future_slot(hours=30)
    client = client_for(student)
    assert _ids(client.get(MY_BOOKINGS)) == []
    written, release, failures = threading.Event(), threading.Event(), []

    def write():
        try:
            with transaction.atomic():
                booking_hold(student=student, slot_id=slot.pk, package_id=package.pk)
                written.set()
                release.wait(10)
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)
        finally:
            written.set()
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    assert written.wait(10)
    assert _ids(client.get(MY_BOOKINGS)) == []  # not committed yet: the old page, cached again
    release.set()
    writer.join(10)
    assert not failures
    hits = _page_cache_hits_are_fresh.hits
    assert len(_ids(client.get(MY_BOOKINGS))) == 1
    assert _page_cache_hits_are_fresh.hits == hits  # a miss: the commit retired that page


@pytest.mark.django_db(transaction=True)
def test_a_bump_happens_at_commit_and_not_on_rollback():
    scope = f"test:{uuid.uuid4()}"
    key = page_cache._generation_key(scope)
    page_cache.cached_page(scope=scope, key=(), compute=dict)
    first = cache.get(key)
    assert first is not None
    with transaction.atomic():
        page_cache.scopes_changed(scope)
        assert cache.get(key) == first  # not before the commit
    second = cache.get(key)
    assert second not in (None, first)
    with pytest.raises(RuntimeError), transaction.atomic():
        page_cache.scopes_changed(scope)
        raise RuntimeError("rolled back")
    assert cache.get(key) == second


@pytest.mark.django_db(transaction=True)
def test_a_lost_generation_never_revives_an_old_page(client_for, _page_cache_hits_are_fresh):
    """Generations are random tokens: after an eviction the old page entry cannot match the new one."""
    student = StudentFactory()
    NotificationFactory(user=student)
    client = client_for(student)
    first = client.get(MY_NOTIFICATIONS).json()
    (scope,) = page_cache.user_scopes("notifications", [student.pk])
    cache.delete(page_cache._generation_key(scope))
    hits = _page_cache_hits_are_fresh.hits
    assert client.get(MY_NOTIFICATIONS).json() == first
    assert _page_cache_hits_are_fresh.hits == hits  # recomputed, not served from the orphaned entry
    assert client.get(MY_NOTIFICATIONS).json() == first
    assert _page_cache_hits_are_fresh.hits == hits + 1


@pytest.mark.django_db
def test_reads_inside_a_transaction_are_computed_and_not_cached(client_for, django_assert_max_num_queries):
    """A test transaction stands in for any `atomic()` block: its reads may see rows nobody else can."""
    assert connection.in_atomic_block
    student = StudentFactory()
    NotificationFactory.create_batch(2, user=student)
    client = client_for(student)
    assert len(_ids(client.get(MY_NOTIFICATIONS))) == 2
    with django_assert_max_num_queries(3):  # user, page (a short first page needs no COUNT)
        assert len(_ids(client.get(MY_NOTIFICATIONS))) == 2
    assert not [key for key in cache._cache if ":pages:" in key]


def test_scopes_name_rows_by_canonical_id():
    user_id = uuid.uuid4()
    assert page_cache.user_scopes("x", [str(user_id).upper()]) == (f"x:{user_id}",)
    assert page_cache.participant_scopes("x", student_id=user_id, teacher_id=str(user_id)) == (
        f"x:{user_id}",
        f"x:{user_id}",
        "x:all",
    )


# --- the cache is an optimisation ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_cache_only_costs_speed(client_for, settings, caplog, admin_user):
    settings.CACHES = {
        "default": {
            "BACKEND": "apps.common.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.2},
        }
    }
    student = StudentFactory()
    client = client_for(student)
    assert _ids(client.get(MY_NOTIFICATIONS)) == []
    assert "page cache unavailable" in caplog.text
    created = client_for(admin_user).post(
        "/api/v1/notifications", {"user_id": str(student.pk), "title": "t", "body": "b"}
    )
    assert created.status_code == 201
    assert "not bumped" in caplog.text
    assert _ids(client.get(MY_NOTIFICATIONS)) == [created.json()["id"]]


@pytest.mark.django_db(transaction=True)
def test_pages_and_generations_round_trip_through_redis(client_for, settings, redis_url, _page_cache_hits_are_fresh):
    """The production backend (apps/common/cache.py): one MGET per hit, generations set in one pipeline."""
    settings.CACHES = {
        "default": {
            "BACKEND": "apps.common.cache.RedisCache",
            "LOCATION": redis_url(13),
            "KEY_PREFIX": f"go-page-cache-test-{uuid.uuid4().hex[:8]}",
        }
    }
    student = StudentFactory()
    package = PackageFactory(student=student)
    slot = future_slot(hours=30)
    client = client_for(student)
    try:
        assert _ids(client.get(MY_BOOKINGS)) == []
        assert _ids(client.get(MY_BOOKINGS)) == []
        assert _page_cache_hits_are_fresh.hits == 1
        held = client.post("/api/v1/booking/hold", {"slot_id": str(slot.pk), "package_id": str(package.pk)})
        assert held.status_code == 201
        assert _ids(client.get(MY_BOOKINGS)) == [held.json()["id"]]
        assert _ids(client.get(MY_BOOKINGS)) == [held.json()["id"]]
        assert _page_cache_hits_are_fresh.hits == 2
    finally:
        cache.clear()
