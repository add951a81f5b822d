"""Booking endpoints (SPEC §3 Booking), and the admin lesson repair that needs a booking's lock."""

from apps.booking import selectors, services
from apps.booking.serializers import (
    BookingCancelSerializer,
    BookingHoldSerializer,
    BookingListQuerySerializer,
    BookingRescheduleSerializer,
    BookingSerializer,
    HoldsExpiredSerializer,
)
from apps.common.pagination import cached_page_data
from apps.common.permissions import IsAdmin, IsStudent
from apps.common.viewsets import ApiViewSet, endpoint
from apps.lessons.serializers import LessonCreateSerializer, LessonSerializer


class BookingViewSet(ApiViewSet):
    serializer_class = BookingSerializer
    lookup_url_kwarg = "booking_id"

    @endpoint("post", body=BookingHoldSerializer, status=201, permissions=[IsStudent])
    def hold(self, request, body):
        """Hold an open slot with one of your packages (students)."""
        return services.booking_hold(student=request.user, **body)

    @endpoint("post", "holds/expire", returns=HoldsExpiredSerializer, permissions=[IsAdmin])
    def holds_expire(self, request):
        """Expire every hold past its hold_expires_at (admins)."""
        return {"expired": services.booking_holds_expire(actor=request.user)}

    @endpoint(query=BookingListQuerySerializer, page=True)
    def my(self, request, query):
        """Your bookings (all for an admin), newest first."""
        status = query.get("status")
        scope, who = selectors.booking_list_scope(user=request.user)
        return cached_page_data(
            request=request,
            scope=scope,
            key=(*who, status),
            rows=lambda: selectors.booking_list_for(user=request.user, status=status),
            serializer_class=BookingSerializer,
        )

    @endpoint()
    def retrieve(self, request, booking_id):
        """One booking (its student, its teacher, or an admin)."""
        return selectors.booking_get_for(user=request.user, booking_id=booking_id)

    @endpoint("post", detail=True)
    def confirm(self, request, booking_id):
        """Confirm a hold (its student, its teacher, or an admin)."""
        return services.booking_confirm(actor=request.user, booking_id=booking_id)

    @endpoint("post", detail=True, body=BookingCancelSerializer)
    def cancel(self, request, booking_id, body):
        """Cancel a hold or a confirmed booking (its student, its teacher, or an admin)."""
        return services.booking_cancel(actor=request.user, booking_id=booking_id, **body)

    @endpoint("post", detail=True, body=BookingRescheduleSerializer)
    def reschedule(self, request, booking_id, body):
        """Move your confirmed booking to another open slot (the booking's student)."""
        return services.booking_reschedule(actor=request.user, booking_id=booking_id, **body)


class LessonRepairViewSet(ApiViewSet):
    """`POST /api/v1/lessons` is served here, not in apps/lessons: it locks the booking, and lessons sit below."""

    serializer_class = LessonSerializer

    @endpoint(body=LessonCreateSerializer, status=201, permissions=[IsAdmin])
    def create(self, request, body):
        """Create the missing lesson of a confirmed booking (admins)."""
        return services.booking_lesson_create(actor=request.user, **body)
