import uuid

import factory

from apps.audit.models import AuditLog, OutboxEvent
from apps.common import clock


class AuditLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditLog

    actor = None
    action = "booking.confirm"
    entity_type = "booking"
    entity_id = factory.LazyFunction(uuid.uuid4)
    payload = factory.LazyFunction(dict)


class OutboxEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutboxEvent

    aggregate_type = "booking"
    aggregate_id = factory.LazyFunction(uuid.uuid4)
    event_type = "booking.confirmed"
    payload = factory.LazyFunction(dict)
    status = OutboxEvent.Status.PENDING
    occurred_at = factory.LazyFunction(clock.now)
    retries = 0
    error_message = ""
