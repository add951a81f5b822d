import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.audit.models import AuditLog
from apps.common import clock as clock_module
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.scheduling.models import AvailabilitySlot, SlotStatus
from apps.scheduling.tests.factories import SlotFactory

pytestmark = pytest.mark.django_db

CREATE_URL = "/api/v1/scheduling/slots"
OPEN_URL = "/api/v1/scheduling/slots/open"
SLOT_KEYS = {"id", "teacher_id", "created_by_admin_id", "start_at", "end_at", "status", "created_at", "updated_at"}


def assert_error(response, status_code: int, code: str) -> dict:
    assert response.status_code == status_code, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def future(hours: float = 48) -> datetime:
    """A whole-minute UTC time `hours` from now."""
    return (clock_module.now() + timedelta(hours=hours)).replace(second=0, microsecond=0)


def iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def slot_payload(teacher, start: datetime, minutes: int = 60) -> dict:
    return {"teacher_id": str(teacher.pk), "start_at": iso(start), "end_at": iso(start + timedelta(minutes=minutes))}


# --- POST /slots ------------------------------------------------------------------------------


def test_admin_creates_a_slot(admin_client, admin_user):
    teacher = TeacherFactory()
    start = future()
    response = admin_client.post(CREATE_URL, slot_payload(teacher, start, 45))
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == SLOT_KEYS
    slot = AvailabilitySlot.objects.get()
    assert body["id"] == str(slot.pk)
    assert body["teacher_id"] == str(teacher.pk)
    assert body["created_by_admin_id"] == str(admin_user.pk)
    assert body["start_at"] == iso(start)
    assert body["end_at"] == iso(start + timedelta(minutes=45))
    assert body["status"] == "open"
    assert (slot.start_at, slot.end_at, slot.status) == (start, start + timedelta(minutes=45), SlotStatus.OPEN)
    log = AuditLog.objects.get()
    assert log.action == "scheduling.slot.create"
    assert log.actor_id == admin_user.pk
    assert log.entity_id == slot.pk
    assert log.payload["teacher_id"] == str(teacher.pk)


def test_offsets_are_converted_to_utc(admin_client):
    teacher = TeacherFactory()
    start_utc = future()
    local = start_utc.astimezone(ZoneInfo("Asia/Kolkata"))
    payload = {
        "teacher_id": str(teacher.pk),
        "start_at": local.isoformat(),  # +05:30
        "end_at": (local + timedelta(hours=1)).isoformat(),
    }
    response = admin_client.post(CREATE_URL, payload)
    assert response.status_code == 201, response.content
    assert response.json()["start_at"] == iso(start_utc)
    assert AvailabilitySlot.objects.get().start_at == start_utc


def test_unknown_fields_and_read_only_fields_are_ignored(admin_client, admin_user):
    teacher = TeacherFactory()
    payload = {**slot_payload(teacher, future()), "status": "booked", "created_by_admin_id": str(uuid.uuid4()), "x": 1}
    response = admin_client.post(CREATE_URL, payload)
    assert response.status_code == 201, response.content
    slot = AvailabilitySlot.objects.get()
    assert slot.status == SlotStatus.OPEN
    assert slot.created_by_admin_id == admin_user.pk


def test_only_admins_create_slots(client_for, api_client):
    teacher = TeacherFactory()
    payload = slot_payload(teacher, future())
    assert_error(client_for(teacher).post(CREATE_URL, payload), 403, "forbidden")
    assert_error(client_for(StudentFactory()).post(CREATE_URL, payload), 403, "forbidden")
    assert_error(api_client.post(CREATE_URL, payload), 401, "not_authenticated")
    assert not AvailabilitySlot.objects.exists()
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize("minutes", [0, -30])
def test_end_must_be_after_start(admin_client, minutes):
    response = admin_client.post(CREATE_URL, slot_payload(TeacherFactory(), future(), minutes))
    assert_error(response, 422, "business_rule_violation")
    assert not AvailabilitySlot.objects.exists()
    assert not AuditLog.objects.exists()


def test_start_must_be_in_the_future(admin_client, clock):
    teacher = TeacherFactory()
    start = future(hours=1)
    clock.advance(hours=1, minutes=1)
    response = admin_client.post(CREATE_URL, slot_payload(teacher, start))
    assert_error(response, 422, "business_rule_violation")
    past = clock_module.now() - timedelta(days=1)
    assert_error(admin_client.post(CREATE_URL, slot_payload(teacher, past)), 422, "business_rule_violation")
    assert not AvailabilitySlot.objects.exists()


@pytest.mark.parametrize("factory", [StudentFactory, AdminFactory])
def test_teacher_id_must_be_a_teacher(admin_client, factory):
    response = admin_client.post(CREATE_URL, slot_payload(factory(), future()))
    assert_error(response, 422, "business_rule_violation")
    assert not AvailabilitySlot.objects.exists()


def test_unknown_teacher_id_is_422(admin_client):
    payload = {"teacher_id": str(uuid.uuid4()), "start_at": iso(future()), "end_at": iso(future(49))}
    assert_error(admin_client.post(CREATE_URL, payload), 422, "business_rule_violation")
    assert not AvailabilitySlot.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"teacher_id": "not-a-uuid"}, "teacher_id"),
        ({"teacher_id": None}, "teacher_id"),
        ({"start_at": "2030-01-01T10:00:00"}, "start_at"),  # naive
        ({"end_at": "2030-01-01T11:00:00"}, "end_at"),  # naive
        ({"start_at": "tomorrow"}, "start_at"),
        ({"end_at": ""}, "end_at"),
    ],
)
def test_create_validation(admin_client, change, field):
    payload = {**slot_payload(TeacherFactory(), future()), **change}
    error = assert_error(admin_client.post(CREATE_URL, payload), 400, "validation_error")
    assert field in error["details"]
    assert not AvailabilitySlot.objects.exists()


@pytest.mark.parametrize("missing", ["teacher_id", "start_at", "end_at"])
def test_create_requires_every_field(admin_client, missing):
    payload = slot_payload(TeacherFactory(), future())
    del payload[missing]
    error = assert_error(admin_client.post(CREATE_URL, payload), 400, "validation_error")
    assert list(error["details"]) == [missing]


@pytest.mark.parametrize(
    ("offset_minutes", "length_minutes"),
    [(0, 60), (30, 60), (-30, 60), (15, 30), (-30, 120)],
    ids=["same", "overlaps-end", "overlaps-start", "inside", "contains"],
)
def test_overlapping_slot_is_409(admin_client, offset_minutes, length_minutes):
    existing = SlotFactory(start_at=future(), end_at=future() + timedelta(hours=1))
    payload = slot_payload(existing.teacher, existing.start_at + timedelta(minutes=offset_minutes), length_minutes)
    assert_error(admin_client.post(CREATE_URL, payload), 409, "conflict")
    assert AvailabilitySlot.objects.count() == 1
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize("status", [SlotStatus.HOLD, SlotStatus.BOOKED])
def test_held_and_booked_slots_block_overlaps(admin_client, status):
    existing = SlotFactory(status=status)
    payload = slot_payload(existing.teacher, existing.start_at)
    assert_error(admin_client.post(CREATE_URL, payload), 409, "conflict")
    assert AvailabilitySlot.objects.count() == 1


def test_touching_slots_do_not_overlap(admin_client):
    existing = SlotFactory()
    after = admin_client.post(CREATE_URL, slot_payload(existing.teacher, existing.end_at))
    assert after.status_code == 201, after.content
    before = admin_client.post(CREATE_URL, slot_payload(existing.teacher, existing.start_at - timedelta(hours=1)))
    assert before.status_code == 201, before.content
    assert AvailabilitySlot.objects.filter(teacher=existing.teacher).count() == 3


def test_a_canceled_slot_does_not_block(admin_client):
    canceled = SlotFactory(status=SlotStatus.CANCELED)
    response = admin_client.post(CREATE_URL, slot_payload(canceled.teacher, canceled.start_at))
    assert response.status_code == 201, response.content
    assert AvailabilitySlot.objects.filter(teacher=canceled.teacher).count() == 2


def test_other_teachers_may_share_the_time(admin_client):
    existing = SlotFactory()
    response = admin_client.post(CREATE_URL, slot_payload(TeacherFactory(), existing.start_at))
    assert response.status_code == 201, response.content


def test_get_on_create_path_is_405(admin_client):
    assert admin_client.get(CREATE_URL).status_code == 405


# --- GET /slots/open --------------------------------------------------------------------------


def test_open_slots_are_public_soonest_first_and_exclude_other_statuses(api_client):
    teacher = TeacherFactory()
    later = SlotFactory(teacher=teacher, start_at=future(30), end_at=future(31))
    sooner = SlotFactory(start_at=future(10), end_at=future(11))
    for status in (SlotStatus.HOLD, SlotStatus.BOOKED, SlotStatus.CANCELED):
        SlotFactory(status=status)
    response = api_client.get(OPEN_URL)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    assert (body["limit"], body["offset"]) == (20, 0)
    assert [item["id"] for item in body["items"]] == [str(sooner.pk), str(later.pk)]
    item = body["items"][1]
    assert set(item) == SLOT_KEYS
    assert item["teacher_id"] == str(teacher.pk)
    assert item["created_by_admin_id"] == str(later.created_by_admin_id)
    assert item["status"] == "open"
    assert item["start_at"] == iso(later.start_at)


def test_slots_that_have_started_are_not_listed(api_client, clock):
    soon = SlotFactory(start_at=future(1), end_at=future(2))
    later = SlotFactory(start_at=future(5), end_at=future(6))
    clock.advance(hours=1, minutes=1)
    body = api_client.get(OPEN_URL).json()
    assert [item["id"] for item in body["items"]] == [str(later.pk)]
    assert AvailabilitySlot.objects.get(pk=soon.pk).status == SlotStatus.OPEN


def test_filter_by_teacher(api_client):
    mine = SlotFactory()
    SlotFactory()
    body = api_client.get(OPEN_URL, {"teacher_id": str(mine.teacher_id)}).json()
    assert [item["id"] for item in body["items"]] == [str(mine.pk)]
    body = api_client.get(OPEN_URL, {"teacher_id": str(uuid.uuid4())}).json()
    assert body == {"items": [], "total": 0, "limit": 20, "offset": 0}


def test_from_is_inclusive_and_to_is_exclusive(api_client):
    teacher = TeacherFactory()
    starts = [future(24 + h) for h in range(4)]
    slots = [SlotFactory(teacher=teacher, start_at=s, end_at=s + timedelta(minutes=30)) for s in starts]
    body = api_client.get(OPEN_URL, {"from": iso(starts[1]), "to": iso(starts[3])}).json()
    assert [item["id"] for item in body["items"]] == [str(slots[1].pk), str(slots[2].pk)]
    body = api_client.get(OPEN_URL, {"from": iso(starts[2])}).json()
    assert [item["id"] for item in body["items"]] == [str(slots[2].pk), str(slots[3].pk)]
    body = api_client.get(OPEN_URL, {"to": iso(starts[1])}).json()
    assert [item["id"] for item in body["items"]] == [str(slots[0].pk)]


def test_from_with_an_offset_other_than_utc(api_client):
    start = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)
    slot = SlotFactory(start_at=start, end_at=start + timedelta(hours=1))
    # 13:00+01:00 == 12:00Z, so the slot is included; 13:00:01+01:00 excludes it
    assert api_client.get(OPEN_URL, {"from": "2031-03-01T13:00:00+01:00"}).json()["total"] == 1
    assert api_client.get(OPEN_URL, {"from": "2031-03-01T13:00:01+01:00"}).json()["total"] == 0
    # an unencoded "+" arrives as a space; it is read as the offset sign
    response = api_client.get(f"{OPEN_URL}?from=2031-03-01T13:00:00+01:00")
    assert response.status_code == 200, response.content
    assert [item["id"] for item in response.json()["items"]] == [str(slot.pk)]


def test_empty_parameters_mean_not_given(api_client):
    SlotFactory()
    response = api_client.get(f"{OPEN_URL}?teacher_id=&from=&to=")
    assert response.status_code == 200
    assert response.json()["total"] == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"teacher_id": "nope"}, "teacher_id"),
        ({"from": "2031-03-01T13:00:00"}, "from"),
        ({"to": "2031-03-01T13:00:00"}, "to"),
        ({"from": "yesterday"}, "from"),
        ({"from": "2031-03-02T00:00:00Z", "to": "2031-03-01T00:00:00Z"}, "to"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_bad_query_parameters_are_400(api_client, params, field):
    error = assert_error(api_client.get(OPEN_URL, params), 400, "validation_error")
    assert field in error["details"]


def test_open_list_pagination(api_client):
    teacher = TeacherFactory()
    slots = SlotFactory.create_batch(5, teacher=teacher)
    body = api_client.get(OPEN_URL, {"limit": 2, "offset": 2}).json()
    assert body["total"] == 5
    assert (body["limit"], body["offset"]) == (2, 2)
    assert [item["id"] for item in body["items"]] == [str(s.pk) for s in slots[2:4]]


@pytest.mark.parametrize("size", [1, 20])
def test_open_list_query_count_does_not_grow_with_page(api_client, admin_client, django_assert_max_num_queries, size):
    SlotFactory.create_batch(size)
    SlotFactory.create_batch(size, status=SlotStatus.BOOKED)
    with django_assert_max_num_queries(2):  # COUNT + page
        body = api_client.get(OPEN_URL, {"limit": 100}).json()
    assert len(body["items"]) == size
    with django_assert_max_num_queries(3):  # + the token's user
        body = admin_client.get(OPEN_URL, {"limit": 100}).json()
    assert len(body["items"]) == size
