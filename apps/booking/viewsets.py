"""Booking endpoints (SPEC §3 Booking), and routes of other sections whose work cancels bookings.

Scheduling and billing sit below booking and never import it, so the slot
routes that carry or cancel a booking (SPEC §8.3) and package cancel (§8.4)
are served here, under their sections' paths; so is the admin lesson repair,
which needs a booking's lock.
"""

from drf_spectacular.utils import OpenApiParameter

from apps.billing.serializers import PackageSerializer
from apps.booking import selectors, services
from apps.booking.serializers import (
    BookingCancelSerializer,
    BookingHoldSerializer,
    BookingListQuerySerializer,
    BookingRescheduleSerializer,
    BookingSerializer,
    HoldsExpiredSerializer,
    MySlotQuerySerializer,
    PackageCancelSerializer,
    SlotCancelSerializer,
    SlotWithBookingSerializer,
    TeacherStudentSerializer,
)
from apps.common.pagination import cached_page_data
from apps.common.permissions import IsAdmin, IsAdminOrTeacher, IsStudent, IsTeacher
from apps.common.viewsets import AdminViewSet, ApiViewSet, endpoint
from apps.lessons.serializers import LessonCreateSerializer, LessonSerializer
from apps.scheduling.serializers import SLOT_LIST_PARAMETERS, SlotSerializer

_MY_SLOT_FILTERS = [
    *SLOT_LIST_PARAMETERS,
    OpenApiParameter("status", str, enum=["open", "hold", "booked", "canceled"], description="Only this status"),
]


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
        """Move a confirmed booking to another open slot (its student, or an admin on the student's behalf)."""
        return services.booking_reschedule(actor=request.user, booking_id=booking_id, **body)


class LessonRepairViewSet(ApiViewSet):
    """`POST /api/v1/lessons` is served here, not in apps/lessons: it locks the booking, and lessons sit below."""

    serializer_class = LessonSerializer

    @endpoint(body=LessonCreateSerializer, status=201, permissions=[IsAdmin])
    def create(self, request, body):
        """Create the missing lesson of a confirmed booking (admins)."""
        return services.booking_lesson_create(actor=request.user, **body)


class SlotBookingViewSet(ApiViewSet):
    """`/api/v1/scheduling/slots/...` routes that see or cancel a slot's booking (SPEC §8.3)."""

    serializer_class = SlotSerializer
    permission_classes = [IsAdminOrTeacher]
    lookup_url_kwarg = "slot_id"

    @endpoint("post", detail=True, body=SlotCancelSerializer)
    def cancel(self, request, slot_id, body):
        """Cancel a slot and its hold or booking (the slot's teacher, or an admin)."""
        return services.slot_cancel(actor=request.user, slot_id=slot_id, **body)

    @endpoint(query=MySlotQuerySerializer, page=True, returns=SlotWithBookingSerializer, parameters=_MY_SLOT_FILTERS)
    def my(self, request, query):
        """Your slots with their active booking, soonest first (teachers; admins see all)."""
        return selectors.slot_list_for(
            user=request.user,
            teacher_id=query.get("teacher_id"),
            start_from=query.get("from"),
            start_to=query.get("to"),
            status=query.get("status"),
        )


class PackageCancelViewSet(AdminViewSet):
    """`POST /api/v1/billing/packages/{id}/cancel` (SPEC §8.4): it cancels the package's bookings."""

    serializer_class = PackageSerializer
    lookup_url_kwarg = "package_id"

    @endpoint("post", detail=True, body=PackageCancelSerializer)
    def cancel(self, request, package_id, body):
        """Cancel an active package and its holds; upcoming bookings too with force=true (admins)."""
        return services.package_cancel(actor=request.user, package_id=package_id, **body)


class TeacherStudentViewSet(ApiViewSet):
    """`GET /api/v1/booking/teacher/students`: who the calling teacher teaches."""

    serializer_class = TeacherStudentSerializer
    permission_classes = [IsTeacher]

    @endpoint(page=True)
    def list(self, request):
        """Your students (teachers): everyone who has booked you, with lessons completed and upcoming."""
        return selectors.teacher_student_list(teacher=request.user)
