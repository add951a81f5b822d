"""Reads on bookings (including the locking read other apps use), and slots with their booking."""

from datetime import datetime

from django.db import connection
from django.db.models import Count, Exists, F, FilteredRelation, OuterRef, Q, QuerySet

from apps.booking.errors import BookingAccessDenied, BookingNotFound
from apps.booking.models import ACTIVE_BOOKING_STATUSES, Booking, BookingStatus
from apps.common import clock
from apps.common.locking import lock_row, require_transaction
from apps.common.page_cache import participant_scope
from apps.common.queries import one_or_none, participant_rows
from apps.common.sql import fetch_one, pk_param, quote, select_sql
from apps.identity.models import User
from apps.lessons.selectors import lesson_stats_per_student
from apps.scheduling.models import AvailabilitySlot

# The page-cache scopes of booking lists (apps/common/page_cache.py): `bookings:<user id>`, `bookings:all`.
BOOKING_LISTS = "bookings"


def booking_can_access(*, user, booking: Booking) -> bool:
    """The booking's student, its teacher, or an admin."""
    return bool(user.is_admin or user.pk in (booking.student_id, booking.teacher_id))


def booking_list_for(*, user, status: str | None = None) -> QuerySet[Booking]:
    """Bookings the user may see, newest first: own for students and teachers, all for admins."""
    queryset = participant_rows(Booking.objects.all(), user=user)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-created_at", "-id")


def booking_list_scope(*, user) -> tuple[str, tuple]:
    """The page-cache scope of `booking_list_for(user=user)`, and the key part naming who asks."""
    return participant_scope(BOOKING_LISTS, user=user)


def booking_get_for(*, user, booking_id) -> Booking:
    """One booking the user may see: 404 when unknown, 403 when not theirs."""
    booking = one_or_none(Booking.objects.filter(pk=booking_id))
    if booking is None:
        raise BookingNotFound()
    if not booking_can_access(user=user, booking=booking):
        raise BookingAccessDenied()
    return booking


def booking_successor(*, booking_id) -> Booking | None:
    """The booking that replaced this one through a reschedule, if any."""
    return one_or_none(Booking.objects.filter(rescheduled_from_booking_id=booking_id))


def booking_lock(*, booking_id) -> Booking | None:
    """Lock one booking row for the rest of the transaction (None if unknown).

    Global lock order: slot -> package -> booking -> lesson; callers that also
    need the slot or package lock must take those first.
    """
    return lock_row(Booking, booking_id)


def slot_lock_of_booking(*, booking_id) -> AvailabilitySlot | None:
    """Lock the slot of a booking, found by the booking's id, in one statement; None when the booking is unknown.

    Every booking write starts here or at `slot_lock`: the slot is the first
    lock of the global order, and holding it keeps the slot's bookings still.
    """
    require_transaction()
    slot_id = f"(SELECT {quote('slot_id')} FROM {quote(Booking._meta.db_table)} WHERE {quote('id')} = %s)"
    lock = "FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = select_sql(AvailabilitySlot, where=f"{quote('id')} = {slot_id}", lock=lock)
    return fetch_one(AvailabilitySlot, sql, [pk_param(Booking, booking_id)])


def slot_list_for(
    *,
    user,
    teacher_id=None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    status: str | None = None,
) -> QuerySet[AvailabilitySlot]:
    """Slots soonest first, each annotated with its active booking: a teacher's own, any for an admin.

    `start_from <= start_at < start_to` and `status` when given; `teacher_id`
    narrows further (a teacher naming someone else gets nothing). The active
    booking (hold or confirmed: at most one per slot, a database constraint)
    comes in by one LEFT JOIN as `active_booking_id`, `active_booking_status`
    and `active_booking_student_id` (None when the slot has none), so a page
    is one query whatever its size.
    """
    queryset = AvailabilitySlot.objects.all()
    if not user.is_admin:
        queryset = queryset.filter(teacher_id=user.pk)
    if teacher_id is not None:
        queryset = queryset.filter(teacher_id=teacher_id)
    if start_from is not None:
        queryset = queryset.filter(start_at__gte=start_from)
    if start_to is not None:
        queryset = queryset.filter(start_at__lt=start_to)
    if status:
        queryset = queryset.filter(status=status)
    return (
        queryset.annotate(
            active_booking=FilteredRelation("bookings", condition=Q(bookings__status__in=ACTIVE_BOOKING_STATUSES))
        )
        .annotate(
            active_booking_id=F("active_booking__id"),
            active_booking_status=F("active_booking__status"),
            active_booking_student_id=F("active_booking__student_id"),
        )
        .order_by("start_at", "id")
    )


def teacher_student_list(*, teacher) -> QuerySet[User]:
    """Every student who has booked `teacher` (a booking in any status), by email.

    Each row carries the pair's lesson counts and last lesson (see
    `lesson_stats_per_student`); one query for the page whatever its size.
    """
    booked = Booking.objects.filter(teacher_id=teacher.pk, student_id=OuterRef("pk"))
    return (
        User.objects.filter(Exists(booked))
        .annotate(**lesson_stats_per_student(teacher_id=teacher.pk, now=clock.now()))
        .order_by("email", "id")
    )


def teacher_upcoming_booking_counts(*, teacher_id) -> dict[str, int]:
    """The teacher's hold and confirmed bookings on slots that have not ended: `{"confirmed": n, "hold": n}`.

    A hold counts even past its `hold_expires_at`: until the expiry runs it
    keeps the slot, and the expiry reopens it. A lesson under way counts (its
    slot has not ended). One aggregate query over the teacher's active bookings.
    """
    return Booking.objects.filter(
        teacher_id=teacher_id, status__in=ACTIVE_BOOKING_STATUSES, slot__end_at__gt=clock.now()
    ).aggregate(
        confirmed=Count("pk", filter=Q(status=BookingStatus.CONFIRMED)),
        hold=Count("pk", filter=Q(status=BookingStatus.HOLD)),
    )
