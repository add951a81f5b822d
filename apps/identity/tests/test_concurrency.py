"""Races on identity writes, with real threads and real PostgreSQL transactions."""

import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from apps.identity import services
from apps.identity.models import User
from apps.identity.tests.factories import DEFAULT_PASSWORD, StudentFactory


def _run_together(target, count: int) -> list:
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def worker(index: int) -> None:
        try:
            barrier.wait()
            results[index] = target()
        except Exception as exc:  # recorded for the assertions
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


@pytest.mark.django_db(transaction=True)
def test_concurrent_refresh_with_one_token_succeeds_exactly_once():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    user = StudentFactory()
    refresh_token = services.token_pair_issue(user=user).refresh_token

    def refresh():
        return APIClient().post("/api/v1/identity/auth/refresh", {"refresh_token": refresh_token}, format="json")

    responses = _run_together(refresh, 6)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 401, 401, 401, 401, 401]
    assert BlacklistedToken.objects.count() == 1
    # The original plus exactly one rotated successor.
    assert OutstandingToken.objects.filter(user=user).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_registration_of_one_email_creates_one_user():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")

    def register():
        return APIClient().post(
            "/api/v1/identity/auth/register",
            {"email": "same@example.com", "password": DEFAULT_PASSWORD},
            format="json",
        )

    responses = _run_together(register, 4)

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 409, 409, 409]
    assert User.objects.filter(email__iexact="same@example.com").count() == 1
