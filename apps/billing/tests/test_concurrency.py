"""Real threads against real PostgreSQL: races the locks and constraints must win."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing import services
from apps.billing.models import LessonPackage, PackageStatus, Payment
from apps.billing.tests.factories import PackageFactory, PaymentFactory, PlanFactory
from apps.common import clock as clock_module
from apps.identity.tests.factories import AdminFactory, StudentFactory

pytestmark = pytest.mark.django_db(transaction=True)

PAYMENTS = "/api/v1/billing/payments"


def require_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and SKIP LOCKED need PostgreSQL")


def run_concurrently(*jobs):
    """Start every job at the same moment in its own thread; return results in job order."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)
    errors: list = []

    def runner(index, job):
        try:
            barrier.wait(timeout=10)
            results[index] = job()
        except Exception as exc:  # surfaced in the main thread below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.parametrize("batch_size", [services.EXPIRE_BATCH_SIZE, 5])
def test_two_expiry_runs_expire_each_package_once(batch_size):
    """An API call and the cron command at once: 50 due packages, each expired exactly once."""
    require_postgresql()
    past = clock_module.now() - timedelta(minutes=1)
    packages = [PackageFactory(expires_at=past) for _ in range(50)]
    PackageFactory()  # not due

    counts = run_concurrently(
        lambda: services.packages_expire_due(batch_size=batch_size),
        lambda: services.packages_expire_due(batch_size=batch_size),
    )

    assert sum(counts) == 50
    assert LessonPackage.objects.filter(status=PackageStatus.EXPIRED).count() == 50
    for package in packages:
        assert AuditLog.objects.filter(action="billing.package.expire", entity_id=package.id).count() == 1
        assert OutboxEvent.objects.filter(event_type="billing.package.expired", aggregate_id=package.id).count() == 1
    assert AuditLog.objects.count() == 50
    assert OutboxEvent.objects.count() == 50


def test_concurrent_status_updates_serialize(client_for):
    """pending->succeeded and pending->failed at once, several times: always a serial outcome.

    Serial orders: succeeded first -> the failed move is 422 (one transition);
    failed first -> failed->succeeded is allowed (two transitions). Either way
    the payment ends succeeded, with one audit and outbox row per effective move.
    """
    require_postgresql()
    admin = AdminFactory()
    for _ in range(6):
        payment = PaymentFactory()
        url = f"/api/v1/billing/payments/{payment.id}/status"
        clients = [client_for(admin), client_for(admin)]

        responses = run_concurrently(
            lambda: clients[0].patch(url, {"status": "succeeded"}, format="json"),
            lambda: clients[1].patch(url, {"status": "failed"}, format="json"),
        )
        codes = [r.status_code for r in responses]
        payment.refresh_from_db()
        audits = list(
            AuditLog.objects.filter(action="billing.payment.status.update", entity_id=payment.id).order_by("created_at")
        )
        moves = [(a.payload["from"], a.payload["to"]) for a in audits]
        events = OutboxEvent.objects.filter(event_type="billing.payment.status.updated", aggregate_id=payment.id)

        assert payment.status == "succeeded"
        assert payment.paid_at is not None
        if codes == [200, 422]:
            assert moves == [("pending", "succeeded")]
        else:
            assert codes == [200, 200]
            assert moves == [("pending", "failed"), ("failed", "succeeded")]
        assert events.count() == len(moves)


def test_concurrent_duplicate_external_reference_is_one_201_one_409(client_for):
    """Different packages, so only the unique constraint stands between the two inserts."""
    require_postgresql()
    admin = AdminFactory()
    packages = [PackageFactory(), PackageFactory()]
    clients = [client_for(admin), client_for(admin)]

    responses = run_concurrently(
        *[
            (
                lambda client=client, package=package: client.post(
                    PAYMENTS,
                    {"package_id": str(package.id), "amount": "10.00", "external_reference": "race-ref"},
                    format="json",
                )
            )
            for client, package in zip(clients, packages, strict=True)
        ]
    )

    assert sorted(r.status_code for r in responses) == [201, 409]
    conflict = next(r for r in responses if r.status_code == 409)
    assert conflict.json()["error"]["code"] == "conflict"
    assert Payment.objects.filter(external_reference="race-ref").count() == 1
    assert AuditLog.objects.filter(action="billing.payment.create").count() == 1
    assert OutboxEvent.objects.filter(event_type="billing.payment.created").count() == 1


def test_a_sale_waits_for_a_deactivation_in_flight_and_refuses(client_for):
    """A plan being deactivated (not yet committed) is not sold from: the sale waits for the plan's lock,
    then sees the plan inactive (422). Without the lock it would read the last committed row and sell."""
    require_postgresql()
    admin, student = AdminFactory(), StudentFactory()
    plan = PlanFactory()
    client = client_for(admin)
    deactivated = threading.Event()
    hold_seconds = 0.5

    def deactivate():
        with transaction.atomic():
            services.plan_update(actor=admin, plan_id=plan.pk, data={"is_active": False})
            deactivated.set()
            time.sleep(hold_seconds)  # the transaction stays open, holding the plan's row lock

    def sell():
        assert deactivated.wait(timeout=10)
        started = time.monotonic()
        response = client.post(
            "/api/v1/billing/packages", {"student_id": str(student.pk), "plan_id": str(plan.pk)}, format="json"
        )
        return response, time.monotonic() - started

    _, (response, waited) = run_concurrently(deactivate, sell)

    assert response.status_code == 422, response.content
    assert response.json()["error"]["message"] == "This plan is not active."
    assert waited >= hold_seconds / 2  # it queued behind the deactivation
    assert LessonPackage.objects.count() == 0
    assert list(AuditLog.objects.values_list("action", flat=True)) == ["billing.plan.update"]
