"""`seed_demo_data` builds a living demo school, and running it again adds nothing."""

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.models import LessonPackage, Payment, Plan
from apps.booking.models import Booking
from apps.identity.models import Role, User
from apps.lessons.models import Lesson
from apps.scheduling.models import AvailabilitySlot, WeeklySchedule
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
    # a paid package per student, from their plan, and months of sales history (expired packages)
    current = LessonPackage.objects.filter(status="active")
    assert current.count() == 5 and not current.filter(plan_id=None).exists()
    assert Payment.objects.filter(status="succeeded").count() > 5
    assert LessonPackage.objects.filter(status="expired").exists()
    assert Plan.objects.filter(is_active=True).count() == 3
    # a weekly schedule per teacher, in the teacher's time zone, cut into two weeks of slots
    assert WeeklySchedule.objects.count() == 3
    assert set(WeeklySchedule.objects.values_list("timezone", flat=True)) == {
        "Europe/Madrid",
        "America/Chicago",
        "Europe/London",
    }
    assert not User.objects.filter(full_name="").exists()
    assert Lesson.objects.exclude(homework=None).count() == 1
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
