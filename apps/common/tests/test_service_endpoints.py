"""Liveness and readiness (SPEC §3, Service)."""

import pytest

from apps.common import views as service_views

DEAD_REDIS = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:6390/0"}
}


@pytest.mark.django_db
def test_health_is_ok_and_touches_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_answers_even_when_dependencies_are_down(client, settings, monkeypatch):
    settings.CACHES = DEAD_REDIS
    monkeypatch.setattr(service_views, "_check_database", _boom)

    assert client.get("/health").status_code == 200


@pytest.mark.django_db
def test_ready_when_database_and_cache_answer(client):
    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "cache": "ok"}}


def _boom():
    raise RuntimeError("database is gone")


@pytest.mark.django_db
def test_ready_is_503_naming_the_cache_when_it_fails(client, settings):
    settings.CACHES = DEAD_REDIS

    response = client.get("/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"] == {"database": "ok", "cache": "error"}
    assert body["failed"] == ["cache"]
    assert body["status"] == "not_ready"


@pytest.mark.django_db
def test_ready_is_503_naming_the_database_when_it_fails(client, monkeypatch):
    monkeypatch.setattr(service_views, "_check_database", _boom)

    response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "error", "cache": "ok"}
    assert response.json()["failed"] == ["database"]
    assert "database is gone" not in response.content.decode()


@pytest.mark.django_db
def test_ready_names_both_when_both_fail(client, settings, monkeypatch):
    settings.CACHES = DEAD_REDIS
    monkeypatch.setattr(service_views, "_check_database", _boom)

    response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["failed"] == ["database", "cache"]


@pytest.mark.parametrize("path", ["/health", "/ready"])
@pytest.mark.django_db
def test_service_paths_do_not_redirect(client, path):
    assert client.get(path).status_code in (200, 503)
