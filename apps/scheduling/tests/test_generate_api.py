"""POST /api/v1/scheduling/teachers/{teacher_id}/schedule/generate (SPEC §8.3), through HTTP on PostgreSQL.

Every test pins the clock (conftest `clock`) before the dates it generates, so
the 2027 daylight-saving dates stay in the future whenever the suite runs.
"""

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.audit.models import AuditLog
from apps.billing.tests.factories import PackageFactory
from apps.identity.tests.factories import StudentFactory, TeacherFactory
from apps.scheduling.models import AvailabilitySlot, SlotStatus
from apps.scheduling.tests.factories import SlotFactory, make_schedule
from apps.teachers.tests.factories import TeacherProfileFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
OPEN_URL = "/api/v1/scheduling/slots/open"
EVERY_DAY = range(7)


def url(teacher_id) -> str:
    return f"/api/v1/scheduling/teachers/{teacher_id}/schedule/generate"


def pin(clock, when: str) -> None:
    """Move the test clock to `when` (ISO 8601 with offset)."""
    clock.advance(seconds=(datetime.fromisoformat(when) - clock.now()).total_seconds())


def utc(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def generate(client, teacher, from_date: str, to_date: str):
    return client.post(url(teacher.pk), {"from_date": from_date, "to_date": to_date}, format="json")


def counts(response) -> tuple[int, int, int]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"created", "skipped_existing", "skipped_past"}
    return body["created"], body["skipped_existing"], body["skipped_past"]


def slot_times(teacher) -> list[tuple[datetime, datetime]]:
    return list(AvailabilitySlot.objects.filter(teacher=teacher).order_by("start_at").values_list("start_at", "end_at"))


def assert_error(response, status_code: int, code: str) -> dict:
    assert response.status_code == status_code, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    return body["error"]


def snapshot() -> tuple:
    return (
        list(AvailabilitySlot.objects.order_by("pk").values_list("pk", "status", "updated_at")),
        AuditLog.objects.count(),
    )


@pytest.fixture
def berlin_teacher(clock):
    pin(clock, "2027-03-01T00:00:00+00:00")
    teacher = TeacherFactory(timezone="Europe/Berlin")
    return teacher


# --- daylight saving (Europe/Berlin 2027: summer time from 28 March, back on 31 October) --------------


def test_spring_forward_keeps_the_local_time_and_moves_the_utc_one(berlin_teacher, client_for):
    make_schedule(berlin_teacher, windows=[(d, "18:00", "20:00") for d in EVERY_DAY], timezone="Europe/Berlin")

    assert counts(generate(client_for(berlin_teacher), berlin_teacher, "2027-03-27", "2027-03-29")) == (6, 0, 0)

    times = slot_times(berlin_teacher)
    assert [start for start, _ in times] == [
        utc("2027-03-27T17:00Z"),  # 18:00 CET (+01:00)
        utc("2027-03-27T18:00Z"),
        utc("2027-03-28T16:00Z"),  # 18:00 CEST (+02:00): an hour earlier in UTC
        utc("2027-03-28T17:00Z"),
        utc("2027-03-29T16:00Z"),
        utc("2027-03-29T17:00Z"),
    ]
    assert {start.astimezone(BERLIN).strftime("%H:%M") for start, _ in times[::2]} == {"18:00"}
    assert all(end - start == timedelta(hours=1) for start, end in times)


def test_fall_back_keeps_the_local_time_and_moves_the_utc_one(berlin_teacher, client_for):
    make_schedule(berlin_teacher, windows=[(5, "18:00", "19:00"), (6, "18:00", "19:00")], timezone="Europe/Berlin")

    assert counts(generate(client_for(berlin_teacher), berlin_teacher, "2027-10-30", "2027-10-31")) == (2, 0, 0)

    assert slot_times(berlin_teacher) == [
        (utc("2027-10-30T16:00Z"), utc("2027-10-30T17:00Z")),  # Saturday 18:00 CEST
        (utc("2027-10-31T17:00Z"), utc("2027-10-31T18:00Z")),  # Sunday 18:00 CET
    ]


def test_the_skipped_spring_forward_hour_makes_no_slot(berlin_teacher, client_for):
    make_schedule(
        berlin_teacher,
        windows=[(6, "02:00", "03:00"), (6, "01:00", "02:00"), (6, "03:00", "04:00")],
        timezone="Europe/Berlin",
    )

    # Sunday 28 March 2027: 02:00 CET jumps to 03:00 CEST; no local 02:xx exists that day.
    assert counts(generate(client_for(berlin_teacher), berlin_teacher, "2027-03-28", "2027-03-28")) == (2, 0, 0)

    assert slot_times(berlin_teacher) == [
        (utc("2027-03-28T00:00Z"), utc("2027-03-28T01:00Z")),  # 01:00 CET, ends as the clocks jump
        (utc("2027-03-28T01:00Z"), utc("2027-03-28T02:00Z")),  # 03:00 CEST
    ]
    # A week later the 02:00 window is an ordinary slot again.
    assert counts(generate(client_for(berlin_teacher), berlin_teacher, "2027-04-04", "2027-04-04")) == (3, 0, 0)


def test_a_slot_whose_local_end_falls_in_the_skipped_hour_is_skipped_too(berlin_teacher, client_for):
    make_schedule(berlin_teacher, windows=[(6, "01:00", "04:00")], timezone="Europe/Berlin", slot_minutes=45)

    # 01:00-01:45 fits; 01:45-02:30 would end in the gap (and run into 03:15); 02:30 does not exist; 03:15-04:00 fits.
    assert counts(generate(client_for(berlin_teacher), berlin_teacher, "2027-03-28", "2027-03-28")) == (2, 0, 0)

    assert slot_times(berlin_teacher) == [
        (utc("2027-03-28T00:00Z"), utc("2027-03-28T00:45Z")),
        (utc("2027-03-28T01:15Z"), utc("2027-03-28T02:00Z")),
    ]


def test_the_repeated_fall_back_hour_gets_one_slot_at_its_first_occurrence(berlin_teacher, client_for):
    make_schedule(berlin_teacher, windows=[(6, "01:00", "04:00")], timezone="Europe/Berlin")

    # Sunday 31 October 2027: 03:00 CEST goes back to 02:00 CET; local 02:00-02:59 happens twice.
    assert counts(generate(client_for(berlin_teacher), berlin_teacher, "2027-10-31", "2027-10-31")) == (3, 0, 0)

    assert slot_times(berlin_teacher) == [
        (utc("2027-10-30T23:00Z"), utc("2027-10-31T00:00Z")),  # 01:00 CEST
        (utc("2027-10-31T00:00Z"), utc("2027-10-31T01:00Z")),  # 02:00 CEST (first 02:00), one real hour
        (utc("2027-10-31T02:00Z"), utc("2027-10-31T03:00Z")),  # 03:00 CET: the second 02:00 hour has no slot
    ]
    first_two = slot_times(berlin_teacher)[1][0].astimezone(BERLIN)
    assert (first_two.strftime("%H:%M"), first_two.utcoffset()) == ("02:00", timedelta(hours=2))


# --- time zones far from UTC -------------------------------------------------------------------


def test_kiritimati_monday_morning_is_sunday_in_utc(clock, client_for):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(0, "09:00", "11:00")], timezone="Pacific/Kiritimati")  # UTC+14

    # from/to are local dates: Monday 1 March 2027 in Kiritimati
    assert counts(generate(client_for(teacher), teacher, "2027-03-01", "2027-03-01")) == (2, 0, 0)

    assert slot_times(teacher) == [
        (utc("2027-02-28T19:00Z"), utc("2027-02-28T20:00Z")),
        (utc("2027-02-28T20:00Z"), utc("2027-02-28T21:00Z")),
    ]


def test_pago_pago_monday_evening_is_tuesday_in_utc_and_24_00_ends_the_day(clock, client_for):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(0, "20:00", "24:00")], timezone="Pacific/Pago_Pago")  # UTC-11

    assert counts(generate(client_for(teacher), teacher, "2027-03-01", "2027-03-07")) == (4, 0, 0)

    times = slot_times(teacher)
    assert times[0] == (utc("2027-03-02T07:00Z"), utc("2027-03-02T08:00Z"))
    assert times[-1] == (utc("2027-03-02T10:00Z"), utc("2027-03-02T11:00Z"))  # ends at local midnight
    assert {start.astimezone(ZoneInfo("Pacific/Pago_Pago")).date().isoformat() for start, _ in times} == {"2027-03-01"}


# --- existing slots, idempotence, the past -----------------------------------------------------


def test_overlapping_slots_are_skipped_canceled_ones_do_not_count(clock, client_for, admin_client):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(0, "09:00", "14:00")])  # Mondays, UTC, five 1-hour slots
    manual = admin_client.post(
        "/api/v1/scheduling/slots",
        {"teacher_id": str(teacher.pk), "start_at": "2027-03-01T10:30:00Z", "end_at": "2027-03-01T11:30:00Z"},
        format="json",
    )
    assert manual.status_code == 201, manual.content
    SlotFactory(
        teacher=teacher, start_at=utc("2027-03-01T12:00Z"), end_at=utc("2027-03-01T13:00Z"), status=SlotStatus.CANCELED
    )
    SlotFactory(
        teacher=teacher, start_at=utc("2027-03-01T13:00Z"), end_at=utc("2027-03-01T13:15Z"), status=SlotStatus.BOOKED
    )

    # 10:00 and 11:00 overlap the manual 10:30-11:30 partially; 13:00 overlaps the booked 13:00-13:15.
    assert counts(generate(client_for(teacher), teacher, "2027-03-01", "2027-03-01")) == (2, 3, 0)

    open_starts = sorted(
        AvailabilitySlot.objects.filter(teacher=teacher, status=SlotStatus.OPEN, created_by_admin=None).values_list(
            "start_at", flat=True
        )
    )
    assert open_starts == [utc("2027-03-01T09:00Z"), utc("2027-03-01T12:00Z")]


def test_a_second_run_creates_nothing(clock, client_for):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(d, "08:00", "12:00") for d in EVERY_DAY], slot_minutes=30)
    client = client_for(teacher)

    first = counts(generate(client, teacher, "2027-03-01", "2027-03-14"))
    rows = slot_times(teacher)
    second = counts(generate(client, teacher, "2027-03-01", "2027-03-14"))

    assert first == (14 * 8, 0, 0)
    assert second == (0, 14 * 8, 0)
    assert slot_times(teacher) == rows
    assert AuditLog.objects.filter(action="scheduling.slots.generate").count() == 2


def test_slots_that_do_not_start_in_the_future_are_skipped(clock, client_for):
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(0, "09:00", "13:00")])
    pin(clock, "2027-03-01T10:00:00+00:00")  # Monday 10:00 UTC: 09:00 has started, 10:00 starts now

    assert counts(generate(client_for(teacher), teacher, "2027-02-22", "2027-03-01")) == (2, 0, 6)

    assert [start for start, _ in slot_times(teacher)] == [utc("2027-03-01T11:00Z"), utc("2027-03-01T12:00Z")]


def test_leftover_minutes_at_a_windows_end_make_no_slot(clock, client_for):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(0, "09:00", "11:40")], slot_minutes=45)

    assert counts(generate(client_for(teacher), teacher, "2027-03-01", "2027-03-01")) == (3, 0, 0)

    assert slot_times(teacher)[-1] == (utc("2027-03-01T10:30Z"), utc("2027-03-01T11:15Z"))


# --- who, and what the slots are --------------------------------------------------------------


def test_admin_generates_and_is_recorded_as_creator(clock, admin_client, admin_user):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory()
    schedule = make_schedule(teacher, windows=[(0, "09:00", "11:00")])

    assert counts(generate(admin_client, teacher, "2027-03-01", "2027-03-07")) == (2, 0, 0)

    assert set(AvailabilitySlot.objects.values_list("created_by_admin_id", "status")) == {(admin_user.pk, "open")}
    log = AuditLog.objects.get(action="scheduling.slots.generate")
    assert (log.actor_id, log.entity_type, log.entity_id) == (admin_user.pk, "weekly_schedule", schedule.pk)
    assert log.payload == {
        "teacher_id": str(teacher.pk),
        "from_date": "2027-03-01",
        "to_date": "2027-03-07",
        "created": 2,
        "skipped_existing": 0,
        "skipped_past": 0,
    }


def test_the_teacher_generates_with_no_admin_creator(clock, client_for):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(0, "09:00", "10:00")])
    assert counts(generate(client_for(teacher), teacher, "2027-03-01", "2027-03-01")) == (1, 0, 0)
    assert AvailabilitySlot.objects.get().created_by_admin_id is None
    assert AuditLog.objects.get().actor_id == teacher.pk


@pytest.mark.parametrize("intruder", ["other_teacher", "student", "anonymous"])
def test_intruders_are_refused_and_nothing_changes(clock, client_for, intruder):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory()
    make_schedule(teacher)
    user = {"other_teacher": TeacherFactory, "student": StudentFactory, "anonymous": lambda: None}[intruder]()
    before = snapshot()
    response = generate(client_for(user), teacher, "2027-03-01", "2027-03-07")
    if intruder == "anonymous":
        assert_error(response, 401, "not_authenticated")
    else:
        assert_error(response, 403, "forbidden")
    assert snapshot() == before


def test_unknown_teacher_non_teacher_and_missing_schedule_are_404(clock, admin_client):
    pin(clock, "2027-02-01T00:00:00+00:00")
    for target in (uuid.uuid4(), StudentFactory().pk, TeacherFactory().pk):
        assert_error(
            generate(admin_client, type("U", (), {"pk": target}), "2027-03-01", "2027-03-02"), 404, "not_found"
        )
    assert AuditLog.objects.count() == 0


@pytest.mark.parametrize("state", ["unapproved", "no_profile", "inactive"])
def test_only_an_active_approved_teacher_gets_slots(clock, admin_client, state):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory(is_active=state != "inactive")
    if state == "unapproved":
        TeacherProfileFactory(user=teacher, is_approved=False)
    make_schedule(teacher, approved=state == "inactive")
    before = snapshot()
    assert_error(generate(admin_client, teacher, "2027-03-01", "2027-03-07"), 422, "business_rule_violation")
    assert snapshot() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from_date": "2027-03-01", "to_date": "2027-05-31"}, None),  # 92 days: fine
        ({"from_date": "2027-03-01", "to_date": "2027-06-01"}, "to_date"),  # 93 days
        ({"from_date": "2027-03-02", "to_date": "2027-03-01"}, "to_date"),
        ({"from_date": "2027-03-01"}, "to_date"),
        ({"from_date": "2027-02-30", "to_date": "2027-03-01"}, "from_date"),
        ({"from_date": "2027-03-01T00:00:00Z", "to_date": "2027-03-02"}, "from_date"),
        ({"from_date": "2025-01-01", "to_date": "2025-01-02"}, "from_date"),  # over a year back
        ({"from_date": "2029-03-01", "to_date": "2029-03-02"}, "to_date"),  # over two years ahead
    ],
)
def test_the_date_range_rules(clock, client_for, body, field):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory()
    make_schedule(teacher)
    before = snapshot()
    response = client_for(teacher).post(url(teacher.pk), body, format="json")
    if field is None:
        assert counts(response) == (14 * 3, 0, 0)  # 14 Mondays, three slots each
        return
    assert field in assert_error(response, 400, "validation_error")["details"]
    assert snapshot() == before


# --- cost, and the slots are ordinary slots ---------------------------------------------------


def test_four_weeks_of_12_slots_a_day_is_a_handful_of_queries(clock, client_for, django_assert_max_num_queries):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(d, "08:00", "20:00") for d in EVERY_DAY], timezone="Europe/Berlin")
    client = client_for(teacher)
    SlotFactory(teacher=teacher, start_at=utc("2027-03-03T10:00Z"), end_at=utc("2027-03-03T11:00Z"))

    # The caller, teacher lock, schedule, windows, busy slots, one INSERT, its count, the audit row:
    # 8 statements, plus the savepoint pair the test's own wrapping transaction adds.
    with django_assert_max_num_queries(10):
        result = counts(generate(client, teacher, "2027-03-01", "2027-03-28"))

    assert result == (28 * 12 - 1, 1, 0)


@pytest.mark.django_db(transaction=True)
def test_generated_slots_are_listed_open_and_holdable(clock, client_for, api_client):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher, student = TeacherFactory(), StudentFactory()
    make_schedule(teacher, windows=[(0, "09:00", "11:00")])
    assert api_client.get(OPEN_URL).json()["total"] == 0  # an (empty) page is now cached

    assert counts(generate(client_for(teacher), teacher, "2027-03-01", "2027-03-01")) == (2, 0, 0)

    page = api_client.get(OPEN_URL).json()
    assert [item["start_at"] for item in page["items"]] == ["2027-03-01T09:00:00Z", "2027-03-01T10:00:00Z"]
    package = PackageFactory(student=student)
    hold = client_for(student).post(
        "/api/v1/booking/hold", {"slot_id": page["items"][0]["id"], "package_id": str(package.pk)}, format="json"
    )
    assert hold.status_code == 201, hold.content


def test_the_largest_range_is_still_one_insert(clock, client_for, django_assert_max_num_queries):
    pin(clock, "2027-02-01T00:00:00+00:00")
    teacher = TeacherFactory()
    make_schedule(teacher, windows=[(d, "00:00", "24:00") for d in EVERY_DAY], slot_minutes=15)
    client = client_for(teacher)

    with django_assert_max_num_queries(10) as captured:
        result = counts(generate(client, teacher, "2027-03-01", "2027-05-31"))

    assert result == (92 * 96, 0, 0)
    assert sum(query["sql"].startswith('INSERT INTO "availability_slots"') for query in captured.captured_queries) == 1
