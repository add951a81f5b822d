"""The public open-slot pages are cached, and every slot change is visible on the next read."""

import pytest

from apps.billing.tests.factories import PackageFactory
from apps.booking.tests.factories import future_slot

OPEN_URL = "/api/v1/scheduling/slots/open"


def _ids(response) -> list[str]:
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.django_db(transaction=True)
def test_a_cached_page_is_served_without_queries_and_a_hold_invalidates_it(
    api_client, client_for, student, django_assert_num_queries
):
    slots = [future_slot(hours=24 + i) for i in range(3)]
    first = api_client.get(OPEN_URL)
    assert _ids(first) == [str(s.pk) for s in slots]

    with django_assert_num_queries(0):
        again = api_client.get(OPEN_URL)
    assert again.json() == first.json()

    package = PackageFactory(student=student)
    hold = client_for(student).post(
        "/api/v1/booking/hold", {"slot_id": str(slots[0].pk), "package_id": str(package.pk)}, format="json"
    )
    assert hold.status_code == 201

    after = api_client.get(OPEN_URL)
    assert _ids(after) == [str(s.pk) for s in slots[1:]]
    assert after.json()["total"] == 2


@pytest.mark.django_db(transaction=True)
def test_a_new_slot_is_listed_on_the_next_read(api_client, admin_client, teacher):
    assert api_client.get(OPEN_URL).json()["total"] == 0
    created = admin_client.post(
        "/api/v1/scheduling/slots",
        {"teacher_id": str(teacher.pk), "start_at": "2030-01-01T10:00:00Z", "end_at": "2030-01-01T11:00:00Z"},
        format="json",
    )
    assert created.status_code == 201
    assert _ids(api_client.get(OPEN_URL)) == [created.json()["id"]]


@pytest.mark.django_db
def test_filters_and_bounds_are_part_of_the_key(api_client):
    a, b = future_slot(hours=30), future_slot(hours=31)
    assert _ids(api_client.get(OPEN_URL, {"limit": 1})) == [str(a.pk)]
    assert _ids(api_client.get(OPEN_URL, {"limit": 1, "offset": 1})) == [str(b.pk)]
    assert _ids(api_client.get(OPEN_URL, {"teacher_id": str(b.teacher_id)})) == [str(b.pk)]
    assert api_client.get(OPEN_URL, {"limit": 0}).status_code == 400


@pytest.mark.django_db
def test_an_unreachable_cache_only_costs_speed(api_client, settings, caplog):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6390/0"}
    }
    slot = future_slot(hours=40)
    response = api_client.get(OPEN_URL)
    assert response.status_code == 200
    assert _ids(response) == [str(slot.pk)]
    assert "open-slot cache unavailable" in caplog.text
