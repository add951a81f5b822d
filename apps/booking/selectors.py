"""Reads on bookings (including the locking read other apps use)."""

from django.db.models import QuerySet

from apps.booking.errors import BookingAccessDenied, BookingNotFound
from apps.booking.models import Booking
from apps.common.locking import lock_one
from apps.common.page_cache import participant_scope
from apps.common.queries import one_or_none, participant_rows

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
    return lock_one(Booking.objects.all(), booking_id)
