"""GET/PUT /api/v1/scheduling/teachers/{teacher_id}/schedule (SPEC §8.3): rules, refusals, audit."""

import uuid

import pytest

from apps.audit.models import AuditLog
from apps.identity.tests.factories import StudentFactory, TeacherFactory
from apps.scheduling.models import ScheduleWindow, WeeklySchedule
from apps.scheduling.tests.factories import make_schedule, window

pytestmark = pytest.mark.django_db

SCHEDULE_KEYS = {"teacher_id", "timezone", "slot_minutes", "windows", "updated_at"}


def url(teacher_id) -> str:
    return f"/api/v1/scheduling/teachers/{teacher_id}/schedule"


def assert_error(response, status_code: int, code: str) -> dict:
    assert response.status_code == status_code, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    return body["error"]


def snapshot() -> tuple:
    """Everything a refused request must leave alone."""
    return (
        list(WeeklySchedule.objects.order_by("pk").values_list("pk", "timezone", "slot_minutes", "updated_at")),
        list(ScheduleWindow.objects.order_by("pk").values_list("pk", "weekday", "start_minute", "end_minute")),
        AuditLog.objects.count(),
    )


BODY = {
    "timezone": "Europe/Berlin",
    "slot_minutes": 45,
    "windows": [window(2, "14:00", "18:00"), window(0, "09:00", "12:00"), window(0, "12:00", "13:30")],
}


# --- PUT ---------------------------------------------------------------------------------------


def test_teacher_puts_their_schedule_and_gets_it_back_in_order(client_for):
    teacher = TeacherFactory()
    client = client_for(teacher)

    response = client.put(url(teacher.pk), BODY, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == SCHEDULE_KEYS
    assert body["teacher_id"] == str(teacher.pk)
    assert (body["timezone"], body["slot_minutes"]) == ("Europe/Berlin", 45)
    assert body["windows"] == [window(0, "09:00", "12:00"), window(0, "12:00", "13:30"), window(2, "14:00", "18:00")]
    assert client.get(url(teacher.pk)).json() == body
    schedule = WeeklySchedule.objects.get(teacher=teacher)
    assert sorted(schedule.windows.values_list("weekday", "start_minute", "end_minute")) == [
        (0, 540, 720),
        (0, 720, 810),
        (2, 840, 1080),
    ]
    log = AuditLog.objects.get(action="scheduling.schedule.update")
    assert log.actor_id == teacher.pk and log.entity_id == schedule.pk
    assert log.payload["created"] is True
    assert log.payload["windows"] == body["windows"]


def test_put_replaces_the_whole_schedule(client_for):
    teacher = TeacherFactory()
    client = client_for(teacher)
    client.put(url(teacher.pk), BODY, format="json")
    first = WeeklySchedule.objects.get(teacher=teacher)

    response = client.put(url(teacher.pk), {"timezone": "UTC", "windows": [window(6, "20:00", "24:00")]}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["timezone"], body["slot_minutes"]) == ("UTC", 60)  # slot_minutes back to its default
    assert body["windows"] == [window(6, "20:00", "24:00")]
    assert WeeklySchedule.objects.get().pk == first.pk
    assert list(ScheduleWindow.objects.values_list("weekday", "start_minute", "end_minute")) == [(6, 1200, 1440)]
    assert AuditLog.objects.filter(action="scheduling.schedule.update").count() == 2


def test_timezone_defaults_to_the_teachers_own_and_windows_may_be_empty(client_for):
    teacher = TeacherFactory(timezone="America/Sao_Paulo")
    response = client_for(teacher).put(url(teacher.pk), {"windows": []}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["timezone"] == "America/Sao_Paulo"
    assert response.json()["windows"] == []


def test_the_same_schedule_again_writes_nothing(client_for):
    teacher = TeacherFactory()
    client = client_for(teacher)
    first = client.put(url(teacher.pk), BODY, format="json").json()
    before = snapshot()

    again = client.put(url(teacher.pk), {**BODY, "windows": list(reversed(BODY["windows"]))}, format="json")

    assert again.status_code == 200
    assert again.json() == first
    assert snapshot() == before


def test_admin_puts_any_teachers_schedule(admin_client, admin_user):
    teacher = TeacherFactory()
    response = admin_client.put(url(teacher.pk), BODY, format="json")
    assert response.status_code == 200, response.content
    assert AuditLog.objects.get().actor_id == admin_user.pk


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"windows": [window(0, "9:00", "12:00")]}, "windows"),
        ({"windows": [window(0, "09:00", "24:01")]}, "windows"),
        ({"windows": [window(0, "24:00", "24:00")]}, "windows"),
        ({"windows": [window(0, "09:60", "11:00")]}, "windows"),
        ({"windows": [window(7, "09:00", "12:00")]}, "windows"),
        ({"windows": [window(0, "12:00", "12:00")]}, "windows"),
        ({"windows": [window(0, "12:00", "09:00")]}, "windows"),
        ({"windows": [window(0, "09:00", "12:00"), window(0, "11:00", "13:00")]}, "windows"),
        ({"windows": [window(0, "09:00", "12:00"), window(0, "09:00", "12:00")]}, "windows"),
        ({"windows": [window(0, "09:00", "09:30")]}, "windows"),  # shorter than slot_minutes (45)
        ({"windows": [window(d % 7, f"{h:02d}:00", f"{h:02d}:50") for d in range(7) for h in range(13)]}, "windows"),
        ({"windows": "Mon 09:00-12:00"}, "windows"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"timezone": "+02:00"}, "timezone"),
        ({"slot_minutes": 14}, "slot_minutes"),
        ({"slot_minutes": 241}, "slot_minutes"),
    ],
)
def test_malformed_schedules_are_400_and_change_nothing(client_for, change, field):
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(4, "10:00", "11:00")], timezone="UTC", slot_minutes=60)
    before = snapshot()

    response = client_for(teacher).put(url(teacher.pk), {**BODY, **change}, format="json")

    error = assert_error(response, 400, "validation_error")
    assert field in error["details"], error
    assert snapshot() == before


def test_an_overlap_names_both_windows(client_for):
    teacher = TeacherFactory()
    body = {**BODY, "windows": [window(1, "08:00", "20:00"), window(1, "09:00", "10:00"), window(1, "19:00", "21:00")]}
    error = assert_error(client_for(teacher).put(url(teacher.pk), body, format="json"), 400, "validation_error")
    assert error["details"]["windows"] == {
        "1": ["Tue 09:00-10:00 overlaps window 0 (Tue 08:00-20:00)."],
        "2": ["Tue 19:00-21:00 overlaps window 0 (Tue 08:00-20:00)."],
    }


def test_back_to_back_windows_and_84_of_them_are_fine(client_for):
    teacher = TeacherFactory()
    windows = [window(d, f"{h:02d}:00", f"{h + 1:02d}:00") for d in range(7) for h in range(8, 20)]
    assert len(windows) == 84
    response = client_for(teacher).put(url(teacher.pk), {"windows": windows}, format="json")
    assert response.status_code == 200, response.content
    assert len(response.json()["windows"]) == 84


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "put"])
def test_another_teacher_and_a_student_are_403_anonymous_401(client_for, method):
    owner = TeacherFactory()
    make_schedule(owner)
    before = snapshot()
    for user, status in ((TeacherFactory(), 403), (StudentFactory(), 403), (None, 401)):
        call = getattr(client_for(user), method)
        response = call(url(owner.pk), BODY, format="json") if method == "put" else call(url(owner.pk))
        assert_error(response, status, "forbidden" if status == 403 else "not_authenticated")
    assert snapshot() == before


def test_a_teacher_asking_for_an_unknown_id_is_403_not_404(teacher_client):
    assert_error(teacher_client.get(url(uuid.uuid4())), 403, "forbidden")


@pytest.mark.parametrize("method", ["get", "put"])
def test_unknown_ids_and_non_teachers_are_404(admin_client, method):
    for target in (uuid.uuid4(), StudentFactory().pk):
        call = getattr(admin_client, method)
        response = call(url(target), BODY, format="json") if method == "put" else call(url(target))
        assert assert_error(response, 404, "not_found")["message"] == "No teacher with this id."
    assert WeeklySchedule.objects.count() == 0 and AuditLog.objects.count() == 0


def test_a_teacher_without_a_schedule_is_404(client_for):
    teacher = TeacherFactory()
    error = assert_error(client_for(teacher).get(url(teacher.pk)), 404, "not_found")
    assert error["message"] == "This teacher has no weekly schedule yet."


def test_get_is_three_queries(client_for, django_assert_max_num_queries):
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(d, "09:00", "10:00") for d in range(7)])
    client = client_for(teacher)
    with django_assert_max_num_queries(3):  # the caller, the schedule, its windows
        response = client.get(url(teacher.pk))
    assert len(response.json()["windows"]) == 7


def test_options_on_the_put_route_is_not_a_500(teacher_client, teacher):
    response = teacher_client.options(url(teacher.pk))
    assert response.status_code == 200
    assert {"GET", "PUT"} <= set(response["Allow"].replace(" ", "").split(","))
