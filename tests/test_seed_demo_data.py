"""`seed_demo_data` builds a living demo school, and running it again adds nothing."""

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.models import LessonPackage, Payment
from apps.booking.models import Booking
from apps.identity.models import Role, User
from apps.lessons.models import Lesson
from apps.scheduling.models import AvailabilitySlot
from apps.teachers.models import TeacherProfile


def _counts() -> dict:
    return {
        model.__name__: model.objects.count()
        for model in (
            User,
            TeacherProfile,
            AvailabilitySlot,
            Booking,
            LessonPackage,
            Payment,
            Lesson,
            AuditLog,
            OutboxEvent,
        )
    }


@pytest.mark.django_db
def test_seed_builds_every_state_and_is_idempotent(api_client):
    out = StringIO()
    call_command("seed_demo_data", stdout=out)
    assert "Demo school ready" in out.getvalue()

    assert Counter(User.objects.values_list("role", flat=True)) == {Role.ADMIN: 1, Role.TEACHER: 3, Role.STUDENT: 5}
    assert User.objects.get(email="admin@guitaronline.local").is_staff
    assert TeacherProfile.objects.filter(is_approved=True).count() == 3
    assert Counter(Booking.objects.values_list("status", flat=True)) == {
        "hold": 1,
        "confirmed": 2,
        "canceled": 1,
        "expired": 1,
    }
    assert Lesson.objects.count() == 3  # two scheduled, one canceled with its booking
    assert Payment.objects.filter(status="succeeded").count() == 5
    assert OutboxEvent.objects.filter(status="pending").exists()

    # the public API shows the week of open slots, and a demo student can log in
    page = api_client.get("/api/v1/scheduling/slots/open?limit=100").json()
    assert page["total"] >= 55
    login = api_client.post(
        "/api/v1/identity/auth/login",
        {"email": "student1@guitaronline.local", "password": "guitar-demo-pass"},
        format="json",
    )
    assert login.status_code == 200

    before = _counts()
    call_command("seed_demo_data", stdout=StringIO())
    assert _counts() == before
