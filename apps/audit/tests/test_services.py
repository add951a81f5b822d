import uuid

import pytest
from django.db import transaction

from apps.audit import services
from apps.audit.models import AuditLog, OutboxEvent


class _Boom(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_failing_write_leaves_neither_audit_nor_outbox_rows(admin_user):
    with pytest.raises(_Boom), transaction.atomic():
        services.audit_log_record(actor=admin_user, action="booking.confirm", entity_type="booking")
        services.outbox_event_add(aggregate_type="booking", aggregate_id=uuid.uuid4(), event_type="booking.confirmed")
        assert AuditLog.objects.count() == 1
        assert OutboxEvent.objects.count() == 1
        raise _Boom
    assert AuditLog.objects.count() == 0
    assert OutboxEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_writers_commit_with_the_write(admin_user):
    aggregate_id = uuid.uuid4()
    with transaction.atomic():
        services.audit_log_record(
            actor=admin_user, action="booking.confirm", entity_type="booking", entity_id=aggregate_id
        )
        services.outbox_event_add(
            aggregate_type="booking", aggregate_id=aggregate_id, event_type="booking.confirmed", payload={"a": "1"}
        )
    log = AuditLog.objects.get()
    assert (log.actor_id, log.entity_id, log.payload) == (admin_user.id, aggregate_id, {})
    event = OutboxEvent.objects.get()
    assert (event.status, event.retries, event.payload) == ("pending", 0, {"a": "1"})


@pytest.mark.django_db(transaction=True)
def test_writers_refuse_to_run_outside_a_transaction(admin_user):
    with pytest.raises(RuntimeError, match="transaction"):
        services.audit_log_record(actor=admin_user, action="booking.confirm", entity_type="booking")
    with pytest.raises(RuntimeError, match="transaction"):
        services.outbox_event_add(aggregate_type="booking", aggregate_id=uuid.uuid4(), event_type="booking.confirmed")
    assert AuditLog.objects.count() == 0
    assert OutboxEvent.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_audit_log_create_opens_its_own_transaction(admin_user):
    entity_id = uuid.uuid4()
    log = services.audit_log_create(
        actor=admin_user, action="ops.note", entity_type="booking", entity_id=entity_id, payload={"n": 1}
    )
    stored = AuditLog.objects.get()
    assert stored.id == log.id
    assert (stored.actor_id, stored.action, stored.entity_type, stored.entity_id, stored.payload) == (
        admin_user.id,
        "ops.note",
        "booking",
        entity_id,
        {"n": 1},
    )
