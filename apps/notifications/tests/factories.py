import uuid

import factory

from apps.audit.models import OutboxEvent
from apps.common import clock
from apps.identity.tests.factories import StudentFactory
from apps.notifications.models import Notification


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    user = factory.SubFactory(StudentFactory)
    channel = "email"
    title = factory.Sequence(lambda n: f"Notification {n}")
    body = "Hello from GuitarOnline."


class OutboxEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutboxEvent

    aggregate_type = "booking"
    aggregate_id = factory.LazyFunction(uuid.uuid4)
    event_type = "booking.confirmed"
    payload = factory.LazyFunction(dict)
    occurred_at = factory.LazyFunction(lambda: clock.now())


AGGREGATE_TYPES = {"booking": "booking", "lesson": "lesson", "billing.package": "package", "billing.payment": "payment"}


def contract_payload(event_type: str, *, student, teacher=None) -> dict:
    """A payload shaped like the outbox payload contract for `event_type`."""
    student_id = str(student.pk)
    teacher_id = str(teacher.pk) if teacher else str(uuid.uuid4())
    if event_type.startswith("booking."):
        payload = {
            "booking_id": str(uuid.uuid4()),
            "slot_id": str(uuid.uuid4()),
            "student_id": student_id,
            "teacher_id": teacher_id,
            "package_id": str(uuid.uuid4()),
            "start_at": "2026-12-01T10:00:00+00:00",
            "end_at": "2026-12-01T11:00:00+00:00",
            "status": "confirmed",
        }
        if event_type == "booking.canceled":
            payload["refund_returned"] = True
        if event_type == "booking.rescheduled":
            payload["rescheduled_from_booking_id"] = str(uuid.uuid4())
        return payload
    if event_type.startswith("lesson."):
        return {
            "lesson_id": str(uuid.uuid4()),
            "booking_id": str(uuid.uuid4()),
            "student_id": student_id,
            "teacher_id": teacher_id,
            "scheduled_start_at": "2026-12-01T10:00:00+00:00",
            "scheduled_end_at": "2026-12-01T11:00:00+00:00",
            "status": "scheduled",
        }
    if event_type.startswith("billing.package."):
        payload = {
            "package_id": str(uuid.uuid4()),
            "student_id": student_id,
            "lessons_total": 10,
            "lessons_left": 4,
            "expires_at": "2027-01-01T00:00:00+00:00",
            "status": "active",
        }
        if event_type == "billing.package.canceled":
            payload.update(status="canceled", reason="Refunded at the student's request.")
        return payload
    payload = {
        "payment_id": str(uuid.uuid4()),
        "package_id": str(uuid.uuid4()),
        "student_id": student_id,
        "amount": "49.90",
        "currency": "USD",
        "status": "succeeded",
    }
    if event_type == "billing.payment.status.updated":
        payload["previous_status"] = "pending"
    return payload


def aggregate_type_for(event_type: str) -> str:
    for prefix, aggregate_type in AGGREGATE_TYPES.items():
        if event_type.startswith(prefix):
            return aggregate_type
    return "other"


def contract_event(event_type: str, *, student, teacher=None, **extra) -> OutboxEvent:
    return OutboxEventFactory(
        event_type=event_type,
        aggregate_type=aggregate_type_for(event_type),
        payload=contract_payload(event_type, student=student, teacher=teacher),
        **extra,
    )
