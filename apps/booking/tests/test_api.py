import uuid

import pytest
from django.conf import settings
from django.db import connection

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.tests.factories import PackageFactory
from apps.booking.models import Booking, BookingStatus
from apps.booking.tests.factories import BookingFactory, future_slot, make_confirmed, make_hold
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.lessons.models import Lesson
from apps.scheduling.models import SlotStatus

pytestmark = pytest.mark.django_db

BASE = "/api/v1/booking"
BOOKING_FIELDS = {
    "id",
    "slot_id",
    "student_id",
    "teacher_id",
    "package_id",
    "status",
    "hold_expires_at",
    "confirmed_at",
    "canceled_at",
    "cancellation_reason",
    "refund_returned",
    "rescheduled_from_booking_id",
    "created_at",
    "updated_at",
}


def assert_error(response, status_code: int, code: str):
    assert response.status_code == status_code, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert isinstance(body["error"]["details"], dict)
    return body["error"]


# --- hold ------------------------------------------------------------------------------------------------


def test_hold_returns_201_with_the_booking_shape(student_client, student, slot, package):
    response = student_client.post(f"{BASE}/hold", {"slot_id": str(slot.pk), "package_id": str(package.pk)})

    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == BOOKING_FIELDS
    booking = Booking.objects.get()
    assert body["id"] == str(booking.pk)
    assert body["slot_id"] == str(slot.pk)
    assert body["student_id"] == str(student.pk)
    assert body["teacher_id"] == str(slot.teacher_id)
    assert body["package_id"] == str(package.pk)
    assert body["status"] == "hold"
    assert body["hold_expires_at"].endswith("Z")
    assert body["confirmed_at"] is None
    assert body["canceled_at"] is None
    assert body["cancellation_reason"] is None
    assert body["refund_returned"] is False
    assert body["rescheduled_from_booking_id"] is None
    slot.refresh_from_db()
    package.refresh_from_db()
    assert slot.status == SlotStatus.HOLD
    assert package.lessons_reserved == 1
    assert OutboxEvent.objects.filter(event_type="booking.hold.created").count() == 1
    assert AuditLog.objects.filter(action="booking.hold.create", actor=student).count() == 1


@pytest.mark.parametrize("role", ["teacher", "admin"])
def test_hold_is_for_students_only(client_for, slot, package, snapshot, role):
    user = TeacherFactory() if role == "teacher" else AdminFactory()
    before = snapshot(slot, package)
    response = client_for(user).post(f"{BASE}/hold", {"slot_id": str(slot.pk), "package_id": str(package.pk)})
    assert_error(response, 403, "forbidden")
    assert snapshot(slot, package) == before


def test_hold_without_a_token_is_401(api_client, slot, package):
    response = api_client.post(f"{BASE}/hold", {"slot_id": str(slot.pk), "package_id": str(package.pk)})
    assert_error(response, 401, "not_authenticated")


@pytest.mark.parametrize(
    "payload",
    [{}, {"slot_id": "not-a-uuid", "package_id": "x"}, {"slot_id": str(uuid.uuid4())}],
)
def test_hold_validates_its_input(student_client, payload):
    error = assert_error(student_client.post(f"{BASE}/hold", payload), 400, "validation_error")
    assert "package_id" in error["details"]
    assert Booking.objects.count() == 0


def test_hold_malformed_json_is_400(student_client):
    response = student_client.post(f"{BASE}/hold", data="{nope", content_type="application/json")
    assert_error(response, 400, "validation_error")


def test_hold_refusals_have_the_spec_codes(client_for, student, student_client, slot, package, snapshot):
    rows = (slot, package)
    before = snapshot(*rows)
    cases = [
        ({"slot_id": str(uuid.uuid4()), "package_id": str(package.pk)}, 404, "not_found"),
        ({"slot_id": str(slot.pk), "package_id": str(uuid.uuid4())}, 404, "not_found"),
        ({"slot_id": str(slot.pk), "package_id": str(PackageFactory().pk)}, 403, "forbidden"),
        (
            {"slot_id": str(future_slot(status=SlotStatus.BOOKED).pk), "package_id": str(package.pk)},
            422,
            "business_rule_violation",
        ),
        (
            {"slot_id": str(slot.pk), "package_id": str(PackageFactory(student=student, status="expired").pk)},
            422,
            "business_rule_violation",
        ),
        (
            {
                "slot_id": str(slot.pk),
                "package_id": str(PackageFactory(student=student, lessons_left=1, lessons_reserved=1).pk),
            },
            422,
            "business_rule_violation",
        ),
    ]
    for payload, status_code, code in cases:
        assert_error(student_client.post(f"{BASE}/hold", payload), status_code, code)
    assert snapshot(*rows) == before


def test_hold_on_a_held_slot_is_422(client_for, slot):
    first = StudentFactory()
    make_hold(student=first, slot=slot)
    second = StudentFactory()
    package = PackageFactory(student=second)
    response = client_for(second).post(f"{BASE}/hold", {"slot_id": str(slot.pk), "package_id": str(package.pk)})
    assert_error(response, 422, "business_rule_violation")
    assert Booking.objects.count() == 1


# --- confirm ---------------------------------------------------------------------------------------------


def test_confirm_returns_200_and_the_confirmed_booking(client_for, student, slot, package):
    hold = make_hold(student=student, slot=slot, package=package)
    response = client_for(slot.teacher).post(f"{BASE}/{hold.pk}/confirm")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == BOOKING_FIELDS
    assert body["status"] == "confirmed"
    assert body["confirmed_at"] is not None
    assert Lesson.objects.filter(booking_id=hold.pk, status="scheduled").count() == 1
    # Idempotent.
    again = client_for(student).post(f"{BASE}/{hold.pk}/confirm")
    assert again.status_code == 200
    assert again.json() == body
    assert Lesson.objects.count() == 1


def test_confirm_access_and_state_refusals(client_for, student, slot, package, snapshot):
    hold = make_hold(student=student, slot=slot, package=package)
    canceled = BookingFactory(status=BookingStatus.CANCELED)
    expired = BookingFactory(status=BookingStatus.EXPIRED)
    before = snapshot(hold, slot, package, canceled, expired)

    assert_error(client_for(StudentFactory()).post(f"{BASE}/{hold.pk}/confirm"), 403, "forbidden")
    assert_error(client_for(TeacherFactory()).post(f"{BASE}/{hold.pk}/confirm"), 403, "forbidden")
    assert_error(client_for(student).post(f"{BASE}/{uuid.uuid4()}/confirm"), 404, "not_found")
    assert_error(client_for(canceled.student).post(f"{BASE}/{canceled.pk}/confirm"), 409, "conflict")
    assert_error(client_for(expired.student).post(f"{BASE}/{expired.pk}/confirm"), 409, "conflict")

    assert snapshot(hold, slot, package, canceled, expired) == before


def test_confirm_with_an_expired_package_is_422_and_changes_nothing(client_for, student, slot, package, snapshot):
    hold = make_hold(student=student, slot=slot, package=package)
    type(package).objects.filter(pk=package.pk).update(status="expired")
    before = snapshot(hold, slot, package)
    assert_error(client_for(student).post(f"{BASE}/{hold.pk}/confirm"), 422, "business_rule_violation")
    assert snapshot(hold, slot, package) == before


@pytest.mark.django_db(transaction=True)
def test_confirm_of_a_stale_hold_is_422_and_the_expiry_is_committed(client_for, clock):
    student = StudentFactory()
    slot = future_slot(hours=48)
    package = PackageFactory(student=student)
    hold = make_hold(student=student, slot=slot, package=package)
    clock.advance(minutes=settings.BOOKING_HOLD_MINUTES, seconds=1)

    response = client_for(student).post(f"{BASE}/{hold.pk}/confirm")

    error = assert_error(response, 422, "business_rule_violation")
    assert "expired" in error["message"]
    # Read back on a fresh connection: this is what was committed.
    connection.close()
    hold.refresh_from_db()
    slot.refresh_from_db()
    package.refresh_from_db()
    assert hold.status == BookingStatus.EXPIRED
    assert slot.status == SlotStatus.OPEN
    assert (package.lessons_left, package.lessons_reserved) == (10, 0)
    assert OutboxEvent.objects.filter(event_type="booking.hold.expired", aggregate_id=hold.pk).count() == 1
    assert AuditLog.objects.filter(action="booking.hold.expire", entity_id=hold.pk, actor=student).count() == 1
    # And now it is a final booking: 409.
    assert_error(client_for(student).post(f"{BASE}/{hold.pk}/confirm"), 409, "conflict")


# --- cancel ------------------------------------------------------------------------------------------------


def test_cancel_returns_200_with_reason_and_refund_flag(client_for, student, package):
    booking = make_confirmed(student=student, slot=future_slot(hours=72), package=package)
    response = client_for(student).post(f"{BASE}/{booking.pk}/cancel", {"reason": "sick", "ignored": 1})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "canceled"
    assert body["cancellation_reason"] == "sick"
    assert body["refund_returned"] is True
    assert body["canceled_at"] is not None
    # Again: 200, unchanged.
    again = client_for(student).post(f"{BASE}/{booking.pk}/cancel", {"reason": "other"})
    assert again.status_code == 200
    assert again.json() == body


def test_cancel_without_body_inside_the_window_spends_the_lesson(client_for, student, package):
    booking = make_confirmed(student=student, slot=future_slot(hours=3), package=package)
    response = client_for(student).post(f"{BASE}/{booking.pk}/cancel")
    assert response.status_code == 200, response.content
    assert response.json()["refund_returned"] is False
    assert response.json()["cancellation_reason"] is None
    package.refresh_from_db()
    assert (package.lessons_left, package.lessons_reserved) == (9, 0)


def test_cancel_refusals(client_for, student, slot, package, snapshot):
    booking = make_confirmed(student=student, slot=slot, package=package)
    expired = BookingFactory(status=BookingStatus.EXPIRED)
    before = snapshot(booking, slot, package, expired)
    assert_error(client_for(StudentFactory()).post(f"{BASE}/{booking.pk}/cancel"), 403, "forbidden")
    assert_error(client_for(TeacherFactory()).post(f"{BASE}/{booking.pk}/cancel"), 403, "forbidden")
    assert_error(client_for(student).post(f"{BASE}/{uuid.uuid4()}/cancel"), 404, "not_found")
    assert_error(client_for(expired.student).post(f"{BASE}/{expired.pk}/cancel"), 409, "conflict")
    assert_error(
        client_for(student).post(f"{BASE}/{booking.pk}/cancel", {"reason": "x" * 2001}), 400, "validation_error"
    )
    assert snapshot(booking, slot, package, expired) == before


# --- reschedule ----------------------------------------------------------------------------------------


def test_reschedule_returns_the_new_confirmed_booking(client_for, student, package):
    old = make_confirmed(student=student, slot=future_slot(hours=72), package=package)
    new_slot = future_slot(hours=96)
    response = client_for(student).post(f"{BASE}/{old.pk}/reschedule", {"new_slot_id": str(new_slot.pk)})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == BOOKING_FIELDS
    assert body["status"] == "confirmed"
    assert body["slot_id"] == str(new_slot.pk)
    assert body["rescheduled_from_booking_id"] == str(old.pk)
    # Asking again: the same successor.
    again = client_for(student).post(f"{BASE}/{old.pk}/reschedule", {"new_slot_id": str(new_slot.pk)})
    assert again.status_code == 200
    assert again.json() == body
    assert Booking.objects.filter(rescheduled_from_booking=old).count() == 1


def test_reschedule_refusals(client_for, student, package, snapshot):
    old_slot = future_slot(hours=72)
    old = make_confirmed(student=student, slot=old_slot, package=package)
    held_slot = future_slot(hours=96)
    make_hold(slot=held_slot)
    before = snapshot(old, old_slot, held_slot, package)
    url = f"{BASE}/{old.pk}/reschedule"

    assert_error(client_for(student).post(url, {"new_slot_id": str(held_slot.pk)}), 422, "business_rule_violation")
    assert_error(client_for(student).post(url, {"new_slot_id": str(uuid.uuid4())}), 404, "not_found")
    assert_error(client_for(student).post(url, {}), 400, "validation_error")
    assert_error(client_for(student).post(url, {"new_slot_id": "nope"}), 400, "validation_error")
    assert_error(client_for(old_slot.teacher).post(url, {"new_slot_id": str(held_slot.pk)}), 403, "forbidden")
    assert_error(client_for(StudentFactory()).post(url, {"new_slot_id": str(held_slot.pk)}), 403, "forbidden")
    # An admin may reschedule on the student's behalf, under the same rules: the held slot is still 422.
    assert_error(
        client_for(AdminFactory()).post(url, {"new_slot_id": str(held_slot.pk)}), 422, "business_rule_violation"
    )

    assert snapshot(old, old_slot, held_slot, package) == before


# --- holds/expire ------------------------------------------------------------------------------------


def test_holds_expire_is_admin_only_and_returns_the_count(client_for, admin_client, student, package, clock):
    make_hold(student=student, package=package)
    make_hold(student=student, package=package)
    clock.advance(minutes=settings.BOOKING_HOLD_MINUTES + 1)

    assert_error(client_for(student).post(f"{BASE}/holds/expire"), 403, "forbidden")
    assert_error(client_for(TeacherFactory()).post(f"{BASE}/holds/expire"), 403, "forbidden")
    assert Booking.objects.filter(status="hold").count() == 2

    response = admin_client.post(f"{BASE}/holds/expire")
    assert response.status_code == 200
    assert response.json() == {"expired": 2}
    assert admin_client.post(f"{BASE}/holds/expire").json() == {"expired": 0}
    assert OutboxEvent.objects.filter(event_type="booking.hold.expired").count() == 2


# --- reads -----------------------------------------------------------------------------------------------


def test_get_one_booking_same_access_as_confirm(client_for, admin_client, student, slot, package):
    booking = make_hold(student=student, slot=slot, package=package)
    url = f"{BASE}/{booking.pk}"
    for user in (student, slot.teacher):
        response = client_for(user).get(url)
        assert response.status_code == 200
        assert response.json()["id"] == str(booking.pk)
    assert admin_client.get(url).status_code == 200
    assert_error(client_for(StudentFactory()).get(url), 403, "forbidden")
    assert_error(client_for(TeacherFactory()).get(url), 403, "forbidden")
    assert_error(client_for(student).get(f"{BASE}/{uuid.uuid4()}"), 404, "not_found")


def test_my_lists_own_bookings_newest_first_and_filters_by_status(client_for, admin_client, student, package):
    teacher = TeacherFactory()
    first = make_confirmed(student=student, slot=future_slot(hours=50, teacher=teacher), package=package)
    second = make_hold(student=student, slot=future_slot(hours=60, teacher=teacher), package=package)
    other_student_booking = make_hold(slot=future_slot(hours=70, teacher=teacher))
    unrelated = make_hold()

    body = client_for(student).get(f"{BASE}/my").json()
    assert body["total"] == 2
    assert (body["limit"], body["offset"]) == (20, 0)
    assert [item["id"] for item in body["items"]] == [str(second.pk), str(first.pk)]
    assert set(body["items"][0]) == BOOKING_FIELDS

    holds = client_for(student).get(f"{BASE}/my", {"status": "hold"}).json()
    assert [item["id"] for item in holds["items"]] == [str(second.pk)]

    as_teacher = client_for(teacher).get(f"{BASE}/my").json()
    assert [item["id"] for item in as_teacher["items"]] == [
        str(other_student_booking.pk),
        str(second.pk),
        str(first.pk),
    ]

    as_admin = admin_client.get(f"{BASE}/my", {"limit": 2, "offset": 1}).json()
    assert as_admin["total"] == 4
    assert [item["id"] for item in as_admin["items"]] == [str(other_student_booking.pk), str(second.pk)]
    assert str(unrelated.pk) in {item["id"] for item in admin_client.get(f"{BASE}/my").json()["items"]}


@pytest.mark.parametrize("query", [{"status": "pending"}, {"limit": 0}, {"limit": 101}, {"offset": -1}])
def test_my_rejects_bad_query_params(student_client, query):
    assert_error(student_client.get(f"{BASE}/my", query), 400, "validation_error")


def test_my_needs_a_token(api_client):
    assert_error(api_client.get(f"{BASE}/my"), 401, "not_authenticated")


@pytest.mark.parametrize("count", [1, 15])
def test_my_query_count_does_not_grow_with_page_size(admin_client, django_assert_max_num_queries, count):
    for _ in range(count):
        BookingFactory(rescheduled_from_booking=None)
    # auth user + COUNT + page
    with django_assert_max_num_queries(3):
        response = admin_client.get(f"{BASE}/my", {"limit": 100})
    assert response.json()["total"] == count


def test_paths_do_not_redirect(student_client):
    response = student_client.get(f"{BASE}/my")
    assert response.status_code == 200
    response = student_client.post(f"{BASE}/holds/expire")
    assert response.status_code == 403  # the literal path, not <uuid>


def test_timestamps_are_utc_iso(client_for, student, slot, package):
    booking = make_hold(student=student, slot=slot, package=package)
    body = client_for(student).get(f"{BASE}/{booking.pk}").json()
    for field in ("hold_expires_at", "created_at", "updated_at"):
        assert body[field].endswith("Z")
    assert body["hold_expires_at"] > body["created_at"]
