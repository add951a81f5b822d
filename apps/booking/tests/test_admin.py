import pytest
from django.conf import settings
from django.test import Client

from apps.audit.models import AuditLog
from apps.booking.models import Booking, BookingStatus
from apps.booking.tests.factories import BookingFactory, future_slot, make_confirmed, make_hold
from apps.identity.tests.factories import AdminFactory
from apps.lessons.models import Lesson, LessonStatus
from apps.scheduling.models import SlotStatus
from apps.teachers.tests.factories import TeacherProfileFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/booking/booking/"


@pytest.fixture
def superuser_client():
    admin = AdminFactory(is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(admin)
    client.admin = admin
    return client


def test_changelist_renders_with_filters_and_search(superuser_client, student, package):
    booking = make_confirmed(student=student, package=package)
    response = superuser_client.get(CHANGELIST, {"status__exact": "confirmed", "q": student.email})
    assert response.status_code == 200
    assert str(booking.pk) in response.content.decode()
    assert superuser_client.get(f"{CHANGELIST}{booking.pk}/change/").status_code == 200
    assert superuser_client.get("/admin/lessons/lesson/", {"q": student.email}).status_code == 200


def test_cancel_action_calls_the_service(superuser_client, student, package):
    booking = make_confirmed(student=student, slot=future_slot(hours=3), package=package)
    expired = BookingFactory(status=BookingStatus.EXPIRED)

    response = superuser_client.post(
        CHANGELIST,
        {"action": "cancel_bookings", "_selected_action": [str(booking.pk), str(expired.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert "Canceled 1 booking(s)." in messages
    assert any(str(expired.pk) in m and "expired" in m.lower() for m in messages)
    booking.refresh_from_db()
    booking.slot.refresh_from_db()
    package.refresh_from_db()
    assert booking.status == BookingStatus.CANCELED
    assert booking.refund_returned is True  # staff cancel always returns the lesson
    assert booking.slot.status == SlotStatus.OPEN
    assert (package.lessons_left, package.lessons_reserved) == (10, 0)
    assert Lesson.objects.get(booking=booking).status == LessonStatus.CANCELED
    log = AuditLog.objects.get(action="booking.cancel", entity_id=booking.pk)
    assert log.actor_id == superuser_client.admin.pk
    expired.refresh_from_db()
    assert expired.status == BookingStatus.EXPIRED


def test_expire_stale_holds_action(superuser_client, student, package, clock):
    hold = make_hold(student=student, package=package)
    clock.advance(minutes=settings.BOOKING_HOLD_MINUTES + 1)
    response = superuser_client.post(
        CHANGELIST, {"action": "expire_stale_holds", "_selected_action": [str(hold.pk)]}, follow=True
    )
    assert response.status_code == 200
    assert "Expired 1 booking hold(s)." in [str(m) for m in response.context["messages"]]
    assert Booking.objects.get(pk=hold.pk).status == BookingStatus.EXPIRED


def test_bookings_cannot_be_added_or_deleted_in_the_admin(superuser_client):
    assert superuser_client.get(f"{CHANGELIST}add/").status_code == 403


# --- actions on other apps' pages that cancel bookings ---------------------------------------------


def test_slot_cancel_action_cancels_slots_with_their_bookings(superuser_client):
    open_slot = future_slot(hours=30)
    booking = make_confirmed(slot=future_slot(hours=40))
    assert superuser_client.get("/admin/scheduling/availabilityslot/").status_code == 200

    response = superuser_client.post(
        "/admin/scheduling/availabilityslot/",
        {"action": "cancel_slots", "_selected_action": [str(open_slot.pk), str(booking.slot_id)]},
    )

    assert response.status_code == 302
    open_slot.refresh_from_db()
    booking.refresh_from_db()
    assert open_slot.status == SlotStatus.CANCELED
    assert (booking.status, booking.refund_returned) == (BookingStatus.CANCELED, True)
    assert AuditLog.objects.filter(action="scheduling.slot.cancel", actor=superuser_client.admin).count() == 2


@pytest.mark.parametrize(("action", "canceled"), [("cancel_packages", False), ("force_cancel_packages", True)])
def test_package_cancel_actions(superuser_client, action, canceled):
    booking = make_confirmed(slot=future_slot(hours=40))
    package = booking.package
    assert superuser_client.get("/admin/billing/lessonpackage/").status_code == 200

    response = superuser_client.post(
        "/admin/billing/lessonpackage/", {"action": action, "_selected_action": [str(package.pk)]}, follow=True
    )

    assert response.status_code == 200
    package.refresh_from_db()
    booking.refresh_from_db()
    assert (package.status == "canceled", booking.status == BookingStatus.CANCELED) == (canceled, canceled)
    if not canceled:  # the refusal is shown, not swallowed
        assert "upcoming confirmed bookings" in response.content.decode()


def test_teacher_disable_action(superuser_client):
    profile = TeacherProfileFactory()
    booking = make_confirmed(slot=future_slot(hours=40, teacher=profile.user))
    assert superuser_client.get("/admin/teachers/teacherprofile/").status_code == 200

    response = superuser_client.post(
        "/admin/teachers/teacherprofile/", {"action": "disable_teachers", "_selected_action": [str(profile.pk)]}
    )

    assert response.status_code == 302
    profile.refresh_from_db()
    booking.refresh_from_db()
    assert profile.is_approved is False
    assert (booking.status, booking.refund_returned) == (BookingStatus.CANCELED, True)
    assert AuditLog.objects.filter(action="teachers.teacher.disable", actor=superuser_client.admin).count() == 1
