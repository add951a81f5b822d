import pytest

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.tests.factories import PackageFactory
from apps.booking.models import Booking
from apps.booking.tests.factories import future_slot
from apps.lessons.models import Lesson


@pytest.fixture
def slot(db):
    """An open slot two days ahead."""
    return future_slot(hours=48)


@pytest.fixture
def package(student):
    """The `student` fixture's active package: 10 lessons, none reserved."""
    return PackageFactory(student=student)


@pytest.fixture
def snapshot():
    """`snapshot(*rows)` -> table counts plus the rows' current state, to prove a refusal changed nothing."""

    def take(*rows):
        state = {
            "bookings": Booking.objects.count(),
            "lessons": Lesson.objects.count(),
            "audit": AuditLog.objects.count(),
            "outbox": OutboxEvent.objects.count(),
        }
        for row in rows:
            fresh = type(row).objects.get(pk=row.pk)
            state[str(row.pk)] = {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}
        return state

    return take
