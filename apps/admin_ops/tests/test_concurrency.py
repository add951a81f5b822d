"""A teacher's role change racing the writes that would give them something to teach, on real PostgreSQL threads."""

from datetime import timedelta

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.billing.tests.factories import PackageFactory
from apps.booking.models import Booking, BookingStatus
from apps.booking.tests.factories import future_slot, make_hold
from apps.common import clock
from apps.identity.models import Role, User
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.scheduling.models import AvailabilitySlot
from tests.process_helpers import run_at_once

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_role_change_racing_a_new_slot_lets_exactly_one_win():
    """Both lock the teacher's row; the slot re-reads the role under it, the role change counts open slots."""
    for round_ in range(6):
        admins = AdminFactory(), AdminFactory()
        teacher = TeacherFactory()  # wound down: nothing upcoming, no profile
        start = clock.now() + timedelta(days=2, hours=round_)

        role, slot = run_at_once(
            lambda: as_user(admins[0]).post(f"/api/v1/admin/users/{teacher.pk}/role", {"role": "student"}),
            lambda: as_user(admins[1]).post(
                "/api/v1/scheduling/slots",
                {
                    "teacher_id": str(teacher.pk),
                    "start_at": start.isoformat(),
                    "end_at": (start + timedelta(hours=1)).isoformat(),
                },
                format="json",
            ),
        )

        outcome = (role.status_code, slot.status_code)
        assert outcome in {(200, 422), (422, 201)}, (role.content, slot.content)
        slots = AvailabilitySlot.objects.filter(teacher_id=teacher.pk).count()
        assert (User.objects.get(pk=teacher.pk).role, slots) == (
            (Role.STUDENT, 0) if outcome == (200, 422) else (Role.TEACHER, 1)
        )


def test_role_change_racing_a_confirm_or_a_hold_never_leaves_a_booking_with_a_non_teacher():
    admin = AdminFactory()
    teacher = TeacherFactory()
    held = make_hold(slot=future_slot(hours=30, teacher=teacher))
    open_slot = future_slot(hours=40, teacher=teacher)
    student = StudentFactory()
    package = PackageFactory(student=student)

    role, confirm, hold = run_at_once(
        lambda: as_user(admin).post(f"/api/v1/admin/users/{teacher.pk}/role", {"role": "student"}),
        lambda: as_user(held.student).post(f"/api/v1/booking/{held.pk}/confirm"),
        lambda: as_user(student).post(
            "/api/v1/booking/hold", {"slot_id": str(open_slot.pk), "package_id": str(package.pk)}
        ),
    )

    # Whatever the order, the teacher had a hold and an open slot (or what they became) when the role change looked.
    assert role.status_code == 422, role.content
    assert (confirm.status_code, hold.status_code) == (200, 201)
    assert User.objects.get(pk=teacher.pk).role == Role.TEACHER
    assert set(Booking.objects.filter(teacher_id=teacher.pk).values_list("status", flat=True)) == {
        BookingStatus.CONFIRMED,
        BookingStatus.HOLD,
    }
