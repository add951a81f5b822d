"""Booking endpoints: parse input, call one service or selector, serialize."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.booking.selectors import booking_get_for, booking_list_for
from apps.booking.serializers import (
    BookingCancelSerializer,
    BookingHoldSerializer,
    BookingListQuerySerializer,
    BookingRescheduleSerializer,
    BookingSerializer,
    HoldsExpiredSerializer,
)
from apps.booking.services import (
    booking_cancel,
    booking_confirm,
    booking_hold,
    booking_holds_expire,
    booking_reschedule,
)
from apps.common.pagination import PAGE_PARAMETERS, page_serializer, paginated_response
from apps.common.permissions import IsAdmin, IsStudent


class BookingHoldView(APIView):
    permission_classes = [IsStudent]

    @extend_schema(
        operation_id="booking_hold",
        request=BookingHoldSerializer,
        responses={201: BookingSerializer},
        summary="Hold an open slot with one of your packages (students)",
    )
    def post(self, request):
        serializer = BookingHoldSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        booking = booking_hold(student=request.user, **serializer.validated_data)
        return Response(BookingSerializer(booking).data, status=status.HTTP_201_CREATED)


class BookingHoldsExpireView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        operation_id="booking_holds_expire",
        request=None,
        responses={200: HoldsExpiredSerializer},
        summary="Expire every hold past its hold_expires_at (admins)",
    )
    def post(self, request):
        return Response({"expired": booking_holds_expire(actor=request.user)})


class BookingMyListView(APIView):
    @extend_schema(
        operation_id="booking_my_list",
        parameters=[BookingListQuerySerializer, *PAGE_PARAMETERS],
        responses={200: page_serializer(BookingSerializer)},
        summary="Your bookings (all for an admin), newest first",
    )
    def get(self, request):
        query = BookingListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        queryset = booking_list_for(user=request.user, status=query.validated_data.get("status") or None)
        return paginated_response(request=request, view=self, queryset=queryset, serializer_class=BookingSerializer)


class BookingDetailView(APIView):
    @extend_schema(
        operation_id="booking_retrieve",
        responses={200: BookingSerializer},
        summary="One booking (its student, its teacher, or an admin)",
    )
    def get(self, request, booking_id):
        return Response(BookingSerializer(booking_get_for(user=request.user, booking_id=booking_id)).data)


class BookingConfirmView(APIView):
    @extend_schema(
        operation_id="booking_confirm",
        request=None,
        responses={200: BookingSerializer},
        summary="Confirm a hold (its student, its teacher, or an admin)",
    )
    def post(self, request, booking_id):
        booking = booking_confirm(actor=request.user, booking_id=booking_id)
        return Response(BookingSerializer(booking).data)


class BookingCancelView(APIView):
    @extend_schema(
        operation_id="booking_cancel",
        request=BookingCancelSerializer,
        responses={200: BookingSerializer},
        summary="Cancel a hold or a confirmed booking (its student, its teacher, or an admin)",
    )
    def post(self, request, booking_id):
        serializer = BookingCancelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        booking = booking_cancel(actor=request.user, booking_id=booking_id, reason=serializer.validated_data["reason"])
        return Response(BookingSerializer(booking).data)


class BookingRescheduleView(APIView):
    @extend_schema(
        operation_id="booking_reschedule",
        request=BookingRescheduleSerializer,
        responses={200: BookingSerializer},
        summary="Move your confirmed booking to another open slot (the booking's student)",
    )
    def post(self, request, booking_id):
        serializer = BookingRescheduleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        booking = booking_reschedule(
            actor=request.user, booking_id=booking_id, new_slot_id=serializer.validated_data["new_slot_id"]
        )
        return Response(BookingSerializer(booking).data)
