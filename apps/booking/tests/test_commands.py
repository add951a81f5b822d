from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from apps.audit.models import AuditLog, OutboxEvent
from apps.booking.models import BookingStatus
from apps.booking.tests.factories import make_hold
from apps.scheduling.models import SlotStatus

pytestmark = pytest.mark.django_db


def run_command() -> str:
    out = StringIO()
    call_command("expire_booking_holds", stdout=out)
    return out.getvalue()


def test_expire_booking_holds_prints_the_count_and_expires(student, package, clock):
    holds = [make_hold(student=student, package=package) for _ in range(2)]
    clock.advance(minutes=settings.BOOKING_HOLD_MINUTES, seconds=1)
    fresh = make_hold(student=student, package=package)

    assert run_command() == "Expired 2 booking holds.\n"

    for hold in holds:
        hold.refresh_from_db()
        hold.slot.refresh_from_db()
        assert hold.status == BookingStatus.EXPIRED
        assert hold.slot.status == SlotStatus.OPEN
    fresh.refresh_from_db()
    assert fresh.status == BookingStatus.HOLD
    package.refresh_from_db()
    assert package.lessons_reserved == 1
    assert OutboxEvent.objects.filter(event_type="booking.hold.expired").count() == 2
    assert AuditLog.objects.filter(action="booking.hold.expire", actor=None).count() == 2
    assert run_command() == "Expired 0 booking holds.\n"


def test_expire_booking_holds_with_nothing_to_do():
    assert run_command() == "Expired 0 booking holds.\n"
