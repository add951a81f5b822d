"""The Django admin's lists: they lead with people and status, and cost the same queries at 2 rows or 20.

One test per list would repeat itself; the table below says, per changelist, what it must lead
with and the most queries its page may cost (measured; the same at 2 and at 20 rows).
"""

import datetime as dt

import pytest
from django.contrib.admin.templatetags.admin_list import result_headers
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.audit.tests.factories import OutboxEventFactory
from apps.billing.tests.factories import PackageFactory, PaymentFactory
from apps.booking.models import BookingStatus
from apps.booking.tests.factories import BookingFactory
from apps.common import clock
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.lessons.models import Lesson
from apps.notifications.models import Notification
from apps.scheduling.models import SlotStatus
from apps.scheduling.tests.factories import SlotFactory
from apps.teachers.tests.factories import TeacherProfileFactory


def _teacher(i: int):
    # Half the teachers have a profile, so lists name some by display name and fall back for others.
    return TeacherProfileFactory().user if i % 2 else TeacherFactory()


def _slot(i: int, **fields):
    start = clock.now() + dt.timedelta(days=1, hours=2 * i)
    return SlotFactory(teacher=_teacher(i), start_at=start, end_at=start + dt.timedelta(hours=1), **fields)


def make_bookings(i: int) -> None:
    BookingFactory(slot=_slot(i, status=SlotStatus.HOLD))


def make_lessons(i: int) -> None:
    booking = BookingFactory(
        slot=_slot(i, status=SlotStatus.BOOKED), status=BookingStatus.CONFIRMED, hold_expires_at=None
    )
    Lesson.objects.create(
        booking=booking,
        student=booking.student,
        teacher=booking.teacher,
        scheduled_start_at=booking.slot.start_at,
        scheduled_end_at=booking.slot.end_at,
    )


def make_slots(i: int) -> None:
    _slot(i)


def make_notifications(i: int) -> None:
    Notification.objects.create(user=StudentFactory(), title=f"Lesson {i}", body="b")


# Every page: session, user, the filtered and the full count, the rows (with their people in the
# same query), the date hierarchy's range and days; plus one per list filter that reads the table
# (teachers with slots, currencies, channels, event types).
CHANGELISTS = {
    # changelist: (make one row, leading column labels, most queries for the page)
    "booking/booking": (make_bookings, ["student", "teacher", "status", "slot start"], 7),
    "lessons/lesson": (make_lessons, ["student", "teacher", "status", "scheduled start at"], 7),
    "scheduling/availabilityslot": (make_slots, ["teacher", "status", "start at", "end at"], 8),
    "billing/lessonpackage": (
        lambda i: PackageFactory(),
        ["student", "status", "lessons left / total", "expires at"],
        7,
    ),
    "billing/payment": (lambda i: PaymentFactory(), ["student", "status", "amount", "paid at"], 8),
    "notifications/notification": (make_notifications, ["recipient", "status", "title"], 8),
    "audit/outboxevent": (lambda i: OutboxEventFactory(), ["event type", "status", "retries", "occurred at"], 8),
    "identity/user": (lambda i: StudentFactory(), ["email", "full name", "role", "is active"], 7),
}


def _page(client: Client, url: str):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response, len(queries)


@pytest.mark.django_db
@pytest.mark.parametrize("changelist", list(CHANGELISTS))
def test_changelist_leads_with_people_and_status_in_a_constant_number_of_queries(changelist):
    make_row, leading, most_queries = CHANGELISTS[changelist]
    client = Client()
    client.force_login(AdminFactory())
    url = f"/admin/{changelist}/"

    for i in range(2):
        make_row(i)
    _, queries_at_2 = _page(client, url)
    for i in range(2, 20):
        make_row(i)
    response, queries_at_20 = _page(client, url)

    cl = response.context["cl"]
    assert cl.result_count >= 20
    headers = [header for header in result_headers(cl) if "action-checkbox" not in header["class_attrib"]]
    labels = [str(header["text"]).lower() for header in headers]
    assert labels[: len(leading)] == leading
    assert "id" not in labels  # no UUID column
    assert queries_at_20 == queries_at_2, f"{changelist}: {queries_at_2} queries at 2 rows, {queries_at_20} at 20"
    assert queries_at_20 <= most_queries, f"{changelist}: {queries_at_20} queries"
