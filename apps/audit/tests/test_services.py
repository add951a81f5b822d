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


# --- recorded_atomic: the records of a write in one statement ---------------------------------


@pytest.mark.django_db(transaction=True)
def test_recorded_atomic_writes_every_record_in_one_statement_before_commit(admin_user, django_assert_num_queries):
    from django.db import connection

    aggregate_id = uuid.uuid4()
    with django_assert_num_queries(4) as captured:  # BEGIN, the count below, the records, COMMIT
        with services.recorded_atomic():
            services.outbox_event_add(
                aggregate_type="booking", aggregate_id=aggregate_id, event_type="booking.confirmed"
            )
            services.outbox_event_add(aggregate_type="lesson", aggregate_id=aggregate_id, event_type="lesson.created")
            services.audit_log_record(actor=admin_user, action="booking.confirm", entity_type="booking")
            assert OutboxEvent.objects.count() == 0  # queued, not written yet
    inserts = [q["sql"] for q in captured.captured_queries if "INSERT" in q["sql"]]
    assert len(inserts) == (1 if connection.vendor == "postgresql" else 2)
    assert sorted(OutboxEvent.objects.values_list("event_type", flat=True)) == ["booking.confirmed", "lesson.created"]
    log = AuditLog.objects.get()
    assert (log.actor_id, log.action, log.payload) == (admin_user.pk, "booking.confirm", {})
    assert log.created_at is not None and log.updated_at is not None


@pytest.mark.django_db(transaction=True)
def test_recorded_atomic_that_raises_writes_no_record(admin_user):
    with pytest.raises(_Boom), services.recorded_atomic():
        services.audit_log_record(actor=admin_user, action="booking.confirm", entity_type="booking")
        raise _Boom
    assert not AuditLog.objects.exists()
    with services.recorded_atomic():
        services.audit_log_record(actor=admin_user, action="kept", entity_type="booking")
    assert list(AuditLog.objects.values_list("action", flat=True)) == ["kept"]


@pytest.mark.django_db(transaction=True)
def test_an_inner_recorded_block_that_fails_loses_only_its_own_records(admin_user):
    with services.recorded_atomic():
        services.audit_log_record(actor=admin_user, action="outer", entity_type="booking")
        with pytest.raises(_Boom), services.recorded_atomic():
            services.audit_log_record(actor=admin_user, action="inner", entity_type="booking")
            raise _Boom
        services.outbox_event_add(aggregate_type="booking", aggregate_id=uuid.uuid4(), event_type="after")
    assert list(AuditLog.objects.values_list("action", flat=True)) == ["outer"]
    assert list(OutboxEvent.objects.values_list("event_type", flat=True)) == ["after"]
