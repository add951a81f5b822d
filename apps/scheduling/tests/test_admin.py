"""Django admin: weekly schedules edited through the service (its rules as form errors), generate as an action."""

from datetime import datetime

import pytest
from django.test import Client

from apps.audit.models import AuditLog
from apps.common.admin import teacher_name
from apps.identity.tests.factories import AdminFactory, TeacherFactory
from apps.scheduling.models import AvailabilitySlot, WeeklySchedule
from apps.scheduling.services import schedule_windows
from apps.scheduling.tests.factories import make_schedule
from apps.teachers.tests.factories import TeacherProfileFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/scheduling/weeklyschedule/"


@pytest.fixture
def staff_client():
    admin = AdminFactory(is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    client.admin = admin
    return client


def labels(schedule) -> list[str]:
    return [window.label() for window in schedule_windows(schedule_id=schedule.pk)]


def test_changelist_shows_the_windows(staff_client):
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(2, "14:00", "18:00"), (0, "09:00", "12:00")], timezone="Europe/Berlin")
    response = staff_client.get(CHANGELIST, {"q": teacher.email})
    assert response.status_code == 200
    page = response.content.decode()
    assert teacher_name(teacher) in page and "Europe/Berlin" in page
    assert "Mon 09:00-12:00, Wed 14:00-18:00" in page


def test_staff_add_a_schedule_through_the_service(staff_client):
    teacher = TeacherFactory()
    response = staff_client.post(
        f"{CHANGELIST}add/",
        {
            "teacher": str(teacher.pk),
            "timezone": "Europe/Berlin",
            "slot_minutes": "45",
            "windows": "Mon 09:00-12:00\r\n\r\nsun 20:00-24:00\r\n",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = WeeklySchedule.objects.get(teacher=teacher)
    assert (schedule.timezone, schedule.slot_minutes) == ("Europe/Berlin", 45)
    assert labels(schedule) == ["Mon 09:00-12:00", "Sun 20:00-24:00"]
    log = AuditLog.objects.get(action="scheduling.schedule.update")
    assert log.actor_id == staff_client.admin.pk and log.payload["created"] is True


def test_staff_edit_a_schedule_and_the_form_shows_its_windows(staff_client):
    schedule = make_schedule(TeacherFactory(), windows=[(0, "09:00", "12:00")])
    change_url = f"{CHANGELIST}{schedule.pk}/change/"
    assert "Mon 09:00-12:00" in staff_client.get(change_url).content.decode()

    response = staff_client.post(
        change_url, {"timezone": "UTC", "slot_minutes": "30", "windows": "Tue 10:00-11:00\nThu 10:00-11:30"}
    )

    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.slot_minutes == 30
    assert labels(schedule) == ["Tue 10:00-11:00", "Thu 10:00-11:30"]
    assert AuditLog.objects.filter(action="scheduling.schedule.update").count() == 1


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        ("Mon 09:00-12:00\nMon 11:00-13:00", "Line 2: Mon 11:00-13:00 overlaps window 0 (Mon 09:00-12:00)."),
        ("Mon 12:00-09:00", "Line 1: end must be after start."),
        ("Mon 09:00-09:30", "Line 1: A window must be at least slot_minutes (60) long to hold a slot."),
        ("Funday 09:00-12:00", "Line 1: &quot;Funday 09:00-12:00&quot; is not like &quot;Mon 09:00-12:00&quot;."),
        ("Mon 9-12", "is not like"),
    ],
)
def test_the_services_rules_are_form_errors_and_change_nothing(staff_client, windows, message):
    schedule = make_schedule(TeacherFactory(), windows=[(4, "10:00", "11:00")])
    response = staff_client.post(
        f"{CHANGELIST}{schedule.pk}/change/", {"timezone": "UTC", "slot_minutes": "60", "windows": windows}
    )
    assert response.status_code == 200  # the form again, with its errors
    assert message in response.content.decode()
    assert labels(schedule) == ["Fri 10:00-11:00"]
    assert AuditLog.objects.count() == 0


def test_generate_action_calls_the_service(staff_client, clock):
    clock.advance(seconds=(datetime.fromisoformat("2027-03-01T00:00:00+00:00") - clock.now()).total_seconds())
    ready = make_schedule(TeacherFactory(), windows=[(d, "09:00", "10:00") for d in range(7)])
    unapproved = TeacherFactory()
    TeacherProfileFactory(user=unapproved, is_approved=False)
    pending = make_schedule(unapproved, approved=False)

    response = staff_client.post(
        CHANGELIST,
        {"action": "generate_next_weeks", "_selected_action": [str(ready.pk), str(pending.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert f"{teacher_name(ready.teacher)}: created 28, skipped_existing 0, skipped_past 0." in messages
    assert any(teacher_name(unapproved) in m and "approved" in m for m in messages)
    assert AvailabilitySlot.objects.filter(teacher=ready.teacher, created_by_admin=staff_client.admin).count() == 28
    assert not AvailabilitySlot.objects.filter(teacher=unapproved).exists()


def test_schedules_cannot_be_deleted_in_the_admin(staff_client):
    schedule = make_schedule(TeacherFactory())
    assert staff_client.get(f"{CHANGELIST}{schedule.pk}/delete/").status_code in (302, 403)
    assert WeeklySchedule.objects.filter(pk=schedule.pk).exists()
