"""Bookings canceled on someone's behalf (SPEC §8.2-8.5), through HTTP on PostgreSQL.

Slot cancel and `slots/my` (§8.3), teacher disable (§8.2), package cancel
(§8.4), admin reschedule (§8.5). Each refusal is checked to change nothing in
any table (`fingerprint`). The races are in test_concurrency.py.
"""

import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.models import PackageStatus
from apps.billing.tests.factories import PackageFactory
from apps.booking import services
from apps.booking.errors import PackageBusy
from apps.booking.models import Booking, BookingStatus
from apps.booking.selectors import slot_list_for
from apps.booking.serializers import SlotWithBookingSerializer
from apps.booking.tests.factories import future_slot, make_confirmed, make_hold
from apps.common.rows import row_serializer_for
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.lessons.models import Lesson, LessonStatus
from apps.scheduling.errors import SlotsBusy
from apps.scheduling.models import AvailabilitySlot, SlotStatus
from apps.scheduling.tests.factories import SlotFactory
from apps.teachers.models import TeacherProfile
from apps.teachers.tests.factories import TeacherProfileFactory

pytestmark = pytest.mark.django_db

SLOTS = "/api/v1/scheduling/slots"
TABLES = [
    "users",
    "teacher_profiles",
    "availability_slots",
    "bookings",
    "lesson_packages",
    "payments",
    "lessons",
    "audit_logs",
    "outbox_events",
]


def fingerprint() -> dict:
    """Row count and latest change of every table a cascade can touch: a refusal must leave it as it was."""
    with connection.cursor() as cursor:
        state = {}
        for table in TABLES:
            cursor.execute(f"SELECT count(*), max(updated_at) FROM {table}")
            state[table] = cursor.fetchone()
        return state


def assert_error(response, status_code: int, code: str) -> dict:
    assert response.status_code == status_code, response.content
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    return body["error"]


def counters(package) -> tuple[int, int]:
    package.refresh_from_db()
    return package.lessons_left, package.lessons_reserved


def events_of(booking) -> list[str]:
    return sorted(OutboxEvent.objects.filter(payload__booking_id=str(booking.pk)).values_list("event_type", flat=True))


# --- POST /scheduling/slots/{id}/cancel ------------------------------------------------------------


def test_teacher_cancels_an_open_slot_and_the_open_list_forgets_it_at_once(
    client_for, api_client, django_capture_on_commit_callbacks
):
    slot = future_slot(hours=48)
    assert [item["id"] for item in api_client.get(f"{SLOTS}/open").json()["items"]] == [str(slot.pk)]

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(slot.teacher).post(f"{SLOTS}/{slot.pk}/cancel", {"reason": "holiday"})

    assert response.status_code == 200, response.content
    assert response.json()["id"] == str(slot.pk)
    assert response.json()["status"] == "canceled"
    assert api_client.get(f"{SLOTS}/open").json()["items"] == []  # the cached page was invalidated
    audit = AuditLog.objects.get(action="scheduling.slot.cancel", entity_id=slot.pk)
    assert audit.actor_id == slot.teacher_id
    assert audit.payload == {
        "teacher_id": str(slot.teacher_id),
        "previous_status": "open",
        "reason": "holiday",
        "booking_id": None,
    }


@pytest.mark.parametrize("who", ["teacher", "admin"])
def test_cancel_a_booked_slot_cancels_the_booking_with_a_refund(client_for, clock, who):
    slot = future_slot(hours=3)  # inside the student's refund window: only a teacher/admin cancel refunds
    booking = make_confirmed(slot=slot)
    package = booking.package
    assert counters(package) == (9, 0)
    actor = slot.teacher if who == "teacher" else AdminFactory()

    response = client_for(actor).post(f"{SLOTS}/{slot.pk}/cancel", {})

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "canceled"
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELED
    assert booking.refund_returned is True
    assert booking.cancellation_reason == "The slot was canceled."
    assert counters(package) == (10, 0)
    assert Lesson.objects.get(booking=booking).status == LessonStatus.CANCELED
    assert events_of(booking) == [
        "booking.canceled",
        "booking.confirmed",
        "booking.hold.created",
        "lesson.canceled",
        "lesson.created",
    ]
    canceled = OutboxEvent.objects.get(event_type="booking.canceled")
    assert canceled.payload["refund_returned"] is True
    audit = AuditLog.objects.get(action="scheduling.slot.cancel", entity_id=slot.pk)
    assert (audit.actor_id, audit.payload["previous_status"], audit.payload["booking_id"]) == (
        actor.pk,
        "booked",
        str(booking.pk),
    )
    assert AuditLog.objects.filter(action="booking.cancel", entity_id=booking.pk, actor=actor).count() == 1


def test_cancel_a_held_slot_releases_the_reservation(admin_client):
    hold = make_hold()
    response = admin_client.post(f"{SLOTS}/{hold.slot_id}/cancel", {"reason": "teacher ill"})
    assert response.status_code == 200, response.content
    hold.refresh_from_db()
    assert (hold.status, hold.refund_returned, hold.cancellation_reason) == ("canceled", False, "teacher ill")
    assert counters(hold.package) == (10, 0)
    assert AvailabilitySlot.objects.get(pk=hold.slot_id).status == SlotStatus.CANCELED


def test_cancel_a_canceled_slot_is_200_unchanged(admin_client):
    slot = SlotFactory(status=SlotStatus.CANCELED)
    before = fingerprint()
    response = admin_client.post(f"{SLOTS}/{slot.pk}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert fingerprint() == before


def test_slot_cancel_refusals_change_nothing(client_for, admin_client, clock):
    booking = make_confirmed(slot=future_slot(hours=2))
    slot = booking.slot
    url = f"{SLOTS}/{slot.pk}/cancel"
    other_teacher = TeacherFactory()
    before = fingerprint()

    assert_error(client_for(None).post(url), 401, "not_authenticated")
    assert_error(client_for(booking.student).post(url), 403, "forbidden")
    assert_error(client_for(other_teacher).post(url), 403, "forbidden")
    assert_error(admin_client.post(f"{SLOTS}/{uuid.uuid4()}/cancel"), 404, "not_found")
    assert_error(client_for(slot.teacher).post(url, {"reason": "x" * 2001}, format="json"), 400, "validation_error")
    clock.advance(hours=2)  # the slot starts
    error = assert_error(client_for(slot.teacher).post(url), 422, "business_rule_violation")
    assert error["message"] == "The slot has already started."

    assert fingerprint() == before


# --- GET /scheduling/slots/my -------------------------------------------------------------------------


def test_my_slots_carry_their_active_booking_soonest_first(client_for):
    teacher = TeacherFactory()
    open_slot = future_slot(hours=60, teacher=teacher)
    confirmed = make_confirmed(slot=future_slot(hours=50, teacher=teacher))
    hold = make_hold(slot=future_slot(hours=40, teacher=teacher))
    # a slot whose first booking was canceled and that is held again: only the live hold shows
    rebooked = future_slot(hours=30, teacher=teacher)
    first = make_confirmed(slot=rebooked)
    services.booking_cancel(actor=teacher, booking_id=first.pk)
    again = make_hold(slot=rebooked)
    future_slot(hours=20)  # someone else's

    response = client_for(teacher).get(f"{SLOTS}/my")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["total"] == 4
    assert [item["id"] for item in body["items"]] == [
        str(rebooked.pk),
        str(hold.slot_id),
        str(confirmed.slot_id),
        str(open_slot.pk),
    ]
    bookings = [item["booking"] for item in body["items"]]
    assert bookings == [
        {"id": str(again.pk), "status": "hold", "student_id": str(again.student_id)},
        {"id": str(hold.pk), "status": "hold", "student_id": str(hold.student_id)},
        {"id": str(confirmed.pk), "status": "confirmed", "student_id": str(confirmed.student_id)},
        None,
    ]
    assert set(body["items"][0]) == {
        "id",
        "teacher_id",
        "created_by_admin_id",
        "start_at",
        "end_at",
        "status",
        "created_at",
        "updated_at",
        "booking",
    }


def test_my_slots_filters_and_who_sees_what(client_for, admin_client, clock):
    teacher, other = TeacherFactory(), TeacherFactory()
    early = future_slot(hours=30, teacher=teacher)
    late = future_slot(hours=60, teacher=teacher)
    canceled = future_slot(hours=50, teacher=teacher, status=SlotStatus.CANCELED)
    others = future_slot(hours=40, teacher=other)
    mine = client_for(teacher)

    def ids(client, **query):
        response = client.get(f"{SLOTS}/my", query)
        assert response.status_code == 200, response.content
        return {item["id"] for item in response.json()["items"]}

    assert ids(mine) == {str(early.pk), str(late.pk), str(canceled.pk)}
    assert ids(mine, status="canceled") == {str(canceled.pk)}
    middle = (clock.now() + timedelta(hours=45)).isoformat()
    assert ids(mine, **{"from": middle}) == {str(late.pk), str(canceled.pk)}
    assert ids(mine, to=canceled.start_at.isoformat()) == {str(early.pk)}  # `to` is exclusive
    assert ids(mine, **{"from": early.start_at.isoformat(), "to": late.start_at.isoformat()}) == {
        str(early.pk),
        str(canceled.pk),
    }
    assert ids(mine, teacher_id=str(other.pk)) == set()  # a teacher sees only their own
    assert ids(admin_client, teacher_id=str(other.pk)) == {str(others.pk)}
    assert len(ids(admin_client)) == 4
    assert ids(mine, status="") == ids(mine)  # empty means not given

    assert_error(client_for(StudentFactory()).get(f"{SLOTS}/my"), 403, "forbidden")
    assert_error(client_for(None).get(f"{SLOTS}/my"), 401, "not_authenticated")
    assert_error(mine.get(f"{SLOTS}/my", {"status": "gone"}), 400, "validation_error")
    assert_error(mine.get(f"{SLOTS}/my", {"from": "2030-01-01T10:00:00"}), 400, "validation_error")
    assert_error(mine.get(f"{SLOTS}/my", {"limit": 0}), 400, "validation_error")


@pytest.mark.parametrize("count", [2, 20])
def test_my_slots_query_count_does_not_grow_with_the_page(client_for, django_assert_max_num_queries, count):
    teacher = TeacherFactory()
    for i in range(count):
        slot = future_slot(hours=30 + 2 * i, teacher=teacher)
        if i % 2:
            make_hold(slot=slot)
    client = client_for(teacher)
    with django_assert_max_num_queries(2):  # the page (a LEFT JOIN), and the user behind the token
        response = client.get(f"{SLOTS}/my", {"limit": 100})
    assert response.json()["total"] == count
    assert sum(item["booking"] is not None for item in response.json()["items"]) == count // 2


def test_my_slot_rows_render_exactly_as_drf_does():
    teacher = TeacherFactory()
    make_hold(slot=future_slot(hours=30, teacher=teacher))
    make_confirmed(slot=future_slot(hours=40, teacher=teacher))
    future_slot(hours=50, teacher=teacher)
    queryset = slot_list_for(user=AdminFactory())
    rows = row_serializer_for(SlotWithBookingSerializer)
    assert rows is not None, "slots/my lost its values-row fast path"
    assert rows(queryset) == SlotWithBookingSerializer(queryset, many=True).data


# --- POST /admin/teachers/{teacher_id}/disable --------------------------------------------------


def test_disable_cancels_future_bookings_with_refunds_and_every_future_slot(client_for, admin_client, clock):
    profile = TeacherProfileFactory(is_approved=True)
    teacher = profile.user
    open_slots = [future_slot(hours=30 + i, teacher=teacher) for i in range(2)]
    hold = make_hold(slot=future_slot(hours=40, teacher=teacher))
    confirmed = make_confirmed(slot=future_slot(hours=3, teacher=teacher))  # inside the student window: refund anyway
    started = make_confirmed(slot=future_slot(hours=1, teacher=teacher))
    already_canceled = SlotFactory(teacher=teacher, status=SlotStatus.CANCELED)
    bystander = make_confirmed(slot=future_slot(hours=30))  # another teacher's
    clock.advance(hours=1, minutes=1)  # `started` is under way: it is not a future booking
    marker = OutboxEvent.objects.count()

    response = admin_client.post(
        f"/api/v1/admin/teachers/{teacher.pk}/disable", {"reason": "Left the school."}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"teacher_id": str(teacher.pk), "canceled_bookings": 2, "canceled_slots": 4}
    profile.refresh_from_db()
    assert profile.is_approved is False
    for booking, refunded in ((hold, False), (confirmed, True)):
        booking.refresh_from_db()
        assert (booking.status, booking.refund_returned) == (BookingStatus.CANCELED, refunded)
        assert booking.cancellation_reason == "Left the school."
        assert counters(booking.package) == (10, 0)
    assert Lesson.objects.get(booking=confirmed).status == LessonStatus.CANCELED
    for slot in [*open_slots, hold.slot, confirmed.slot]:
        slot.refresh_from_db()
        assert slot.status == SlotStatus.CANCELED
    # the lesson under way, the canceled slot and the other teacher are untouched
    started.refresh_from_db()
    assert started.status == BookingStatus.CONFIRMED
    assert AvailabilitySlot.objects.get(pk=started.slot_id).status == SlotStatus.BOOKED
    assert AvailabilitySlot.objects.get(pk=already_canceled.pk).status == SlotStatus.CANCELED
    bystander.refresh_from_db()
    assert bystander.status == BookingStatus.CONFIRMED
    new_events = sorted(OutboxEvent.objects.order_by("occurred_at")[marker:].values_list("event_type", flat=True))
    assert new_events == ["booking.canceled", "booking.canceled", "lesson.canceled"]
    students = set(
        OutboxEvent.objects.filter(event_type="booking.canceled").values_list("payload__student_id", flat=True)
    )
    assert students == {str(hold.student_id), str(confirmed.student_id)}
    audit = AuditLog.objects.get(action="teachers.teacher.disable", entity_id=teacher.pk)
    assert audit.payload["unapproved"] is True
    assert sorted(audit.payload["canceled_bookings"]) == sorted([str(hold.pk), str(confirmed.pk)])
    assert len(audit.payload["canceled_slots"]) == 4
    assert AuditLog.objects.filter(action="teachers.profile.update", entity_id=profile.pk).count() == 1

    # The teacher is off the public list, and nothing of theirs can be held.
    assert client_for(None).get(f"/api/v1/teachers/profiles/{profile.pk}").status_code == 404
    student = StudentFactory()
    package = PackageFactory(student=student)
    refused = client_for(student).post(
        "/api/v1/booking/hold", {"slot_id": str(open_slots[0].pk), "package_id": str(package.pk)}
    )
    assert_error(refused, 422, "business_rule_violation")

    # Again: nothing left to do.
    again = admin_client.post(f"/api/v1/admin/teachers/{teacher.pk}/disable", {"reason": "again"})
    assert again.json() == {"teacher_id": str(teacher.pk), "canceled_bookings": 0, "canceled_slots": 0}


def test_disable_a_teacher_without_a_profile(admin_client):
    teacher = TeacherFactory()
    slot = future_slot(hours=30, teacher=teacher)
    response = admin_client.post(f"/api/v1/admin/teachers/{teacher.pk}/disable", {"reason": "never started"})
    assert response.json() == {"teacher_id": str(teacher.pk), "canceled_bookings": 0, "canceled_slots": 1}
    slot.refresh_from_db()
    assert slot.status == SlotStatus.CANCELED
    assert not TeacherProfile.objects.exists()
    assert AuditLog.objects.get(action="teachers.teacher.disable").payload["profile_id"] is None


def test_disable_refusals_change_nothing(client_for, admin_client):
    profile = TeacherProfileFactory()
    teacher = profile.user
    make_confirmed(slot=future_slot(hours=30, teacher=teacher))
    url = f"/api/v1/admin/teachers/{teacher.pk}/disable"
    student = StudentFactory()
    before = fingerprint()

    assert_error(client_for(None).post(url, {"reason": "x"}), 401, "not_authenticated")
    assert_error(client_for(teacher).post(url, {"reason": "x"}), 403, "forbidden")
    assert_error(client_for(student).post(url, {"reason": "x"}), 403, "forbidden")
    assert_error(admin_client.post(url, {}), 400, "validation_error")
    assert_error(admin_client.post(url, {"reason": ""}), 400, "validation_error")
    assert_error(admin_client.post(f"/api/v1/admin/teachers/{uuid.uuid4()}/disable", {"reason": "x"}), 404, "not_found")
    assert_error(admin_client.post(f"/api/v1/admin/teachers/{student.pk}/disable", {"reason": "x"}), 404, "not_found")

    assert fingerprint() == before


# --- POST /billing/packages/{id}/cancel --------------------------------------------------------------


def package_url(package) -> str:
    return f"/api/v1/billing/packages/{package.pk}/cancel"


def test_cancel_a_package_cancels_its_holds(client_for, admin_client):
    package = PackageFactory(lessons_total=5, lessons_left=5)
    holds = [make_hold(package=package) for _ in range(2)]
    other_hold = make_hold()  # another package's
    assert counters(package) == (5, 2)

    response = admin_client.post(package_url(package), {"reason": "Refund requested."}, format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["lessons_left"], body["lessons_reserved"]) == (
        str(package.pk),
        "canceled",
        5,
        0,
    )
    for hold in holds:
        hold.refresh_from_db()
        assert (hold.status, hold.cancellation_reason) == (BookingStatus.CANCELED, "Refund requested.")
        assert AvailabilitySlot.objects.get(pk=hold.slot_id).status == SlotStatus.OPEN
    other_hold.refresh_from_db()
    assert other_hold.status == BookingStatus.HOLD
    event = OutboxEvent.objects.get(event_type="billing.package.canceled")
    assert (event.aggregate_id, event.payload["student_id"], event.payload["status"], event.payload["reason"]) == (
        package.pk,
        str(package.student_id),
        "canceled",
        "Refund requested.",
    )
    audit = AuditLog.objects.get(action="billing.package.cancel", entity_id=package.pk)
    assert audit.actor is not None and audit.actor.is_admin
    assert OutboxEvent.objects.filter(event_type="booking.canceled").count() == 2

    # Again: 200, unchanged; and the canceled package pays for nothing.
    before = fingerprint()
    again = admin_client.post(package_url(package), {"force": True}, format="json")
    assert again.status_code == 200
    assert again.json()["status"] == "canceled"
    assert fingerprint() == before
    slot = future_slot(hours=80)
    refused = client_for(package.student).post(
        "/api/v1/booking/hold", {"slot_id": str(slot.pk), "package_id": str(package.pk)}
    )
    assert_error(refused, 422, "business_rule_violation")


def test_upcoming_bookings_need_force_and_are_then_refunded(admin_client, clock):
    package = PackageFactory(lessons_total=5, lessons_left=5)
    upcoming = make_confirmed(package=package, slot=future_slot(hours=3))
    started = make_confirmed(package=package, slot=future_slot(hours=1))
    hold = make_hold(package=package)
    clock.advance(hours=1, minutes=1)
    assert counters(package) == (3, 1)
    before = fingerprint()

    error = assert_error(admin_client.post(package_url(package), {}), 422, "business_rule_violation")
    assert error["details"] == {"upcoming_bookings": [str(upcoming.pk)]}
    assert fingerprint() == before

    response = admin_client.post(package_url(package), {"force": True, "reason": "Moving abroad."}, format="json")

    assert response.status_code == 200, response.content
    # The upcoming lesson returns to the (canceled) package; the one under way stays spent.
    assert (response.json()["lessons_left"], response.json()["lessons_reserved"]) == (4, 0)
    upcoming.refresh_from_db()
    assert (upcoming.status, upcoming.refund_returned) == (BookingStatus.CANCELED, True)
    assert Lesson.objects.get(booking=upcoming).status == LessonStatus.CANCELED
    assert AvailabilitySlot.objects.get(pk=upcoming.slot_id).status == SlotStatus.OPEN
    started.refresh_from_db()
    assert started.status == BookingStatus.CONFIRMED
    hold.refresh_from_db()
    assert hold.status == BookingStatus.CANCELED
    package.refresh_from_db()
    assert package.status == PackageStatus.CANCELED


def test_package_cancel_refusals_change_nothing(client_for, admin_client):
    package = PackageFactory()
    make_hold(package=package)
    expired = PackageFactory(status=PackageStatus.EXPIRED, student=package.student)
    teacher = TeacherFactory()
    before = fingerprint()

    assert_error(client_for(None).post(package_url(package)), 401, "not_authenticated")
    assert_error(client_for(package.student).post(package_url(package)), 403, "forbidden")
    assert_error(client_for(teacher).post(package_url(package)), 403, "forbidden")
    assert_error(admin_client.post(f"/api/v1/billing/packages/{uuid.uuid4()}/cancel"), 404, "not_found")
    assert_error(admin_client.post(package_url(package), {"force": "maybe"}, format="json"), 400, "validation_error")
    error = assert_error(admin_client.post(package_url(expired)), 422, "business_rule_violation")
    assert error["message"] == "Only an active package can be canceled."

    assert fingerprint() == before


def test_a_hold_slipping_in_between_read_and_lock_is_caught_by_the_recheck(admin_user):
    package = PackageFactory()
    first = make_hold(package=package)
    late_slot = future_slot(hours=90)
    real = services._package_bookings_to_cancel
    calls = []

    def read_then_a_hold_lands(**kwargs):
        found = real(**kwargs)
        calls.append(len(found))
        if len(calls) == 1:  # after the first, unlocked read: a new hold commits before the locks
            make_hold(package=package, slot=late_slot)
        return found

    with mock.patch.object(services, "_package_bookings_to_cancel", side_effect=read_then_a_hold_lands):
        services.package_cancel(actor=admin_user, package_id=package.pk)

    assert calls == [1, 2]  # the re-read under the package lock saw the newcomer, and its slot was taken then
    assert set(Booking.objects.filter(package=package).values_list("status", flat=True)) == {"canceled"}
    assert counters(package) == (10, 0)
    assert set(
        AvailabilitySlot.objects.filter(pk__in=[first.slot_id, late_slot.pk]).values_list("status", flat=True)
    ) == {SlotStatus.OPEN}


def test_a_package_whose_new_slots_stay_busy_is_a_409_that_changes_nothing(admin_user):
    package = PackageFactory(lessons_total=20, lessons_left=20)
    make_hold(package=package)
    real_read, real_lock = services._package_bookings_to_cancel, services.slots_lock
    reads = []

    def a_hold_after_every_first_read(**kwargs):
        found = real_read(**kwargs)
        reads.append(1)
        if len(reads) % 2 == 1:
            make_hold(package=package)
        return found

    def busy_when_out_of_order(*, slot_ids, nowait=False):
        if nowait:  # another request holds the newcomer's slot right now (a thread does this in test_concurrency)
            raise SlotsBusy()
        return real_lock(slot_ids=slot_ids)

    with (
        mock.patch.object(services, "_package_bookings_to_cancel", side_effect=a_hold_after_every_first_read),
        mock.patch.object(services, "slots_lock", side_effect=busy_when_out_of_order),
    ):
        with pytest.raises(PackageBusy):
            services.package_cancel(actor=admin_user, package_id=package.pk)

    assert len(reads) == 2 * services.PACKAGE_CANCEL_ATTEMPTS
    package.refresh_from_db()
    assert package.status == PackageStatus.ACTIVE
    assert not AuditLog.objects.filter(action="billing.package.cancel").exists()
    assert not Booking.objects.filter(status=BookingStatus.CANCELED).exists()
    # the holds the test made are all still there, and counted
    assert package.lessons_reserved == 1 + services.PACKAGE_CANCEL_ATTEMPTS


# --- POST /booking/{id}/reschedule by an admin ---------------------------------------------------------


def test_admin_reschedules_a_students_booking_over_http(client_for, admin_client):
    old = make_confirmed(slot=future_slot(hours=5))
    new_slot = future_slot(hours=50)

    response = admin_client.post(f"/api/v1/booking/{old.pk}/reschedule", {"new_slot_id": str(new_slot.pk)})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["student_id"], body["slot_id"], body["status"], body["rescheduled_from_booking_id"]) == (
        str(old.student_id),
        str(new_slot.pk),
        "confirmed",
        str(old.pk),
    )
    old.refresh_from_db()
    assert old.refund_returned is True  # the admin cancel rule, although the student's window has closed
    assert counters(old.package) == (9, 0)
    assert_error(
        client_for(old.teacher).post(f"/api/v1/booking/{old.pk}/reschedule", {"new_slot_id": str(new_slot.pk)}),
        403,
        "forbidden",
    )
