from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.pagination import PAGE_PARAMETERS, LimitOffsetPage, page_data, page_serializer
from apps.common.permissions import IsAdmin
from apps.scheduling.open_slots_cache import cached_open_slot_page
from apps.scheduling.selectors import open_slot_list
from apps.scheduling.serializers import (
    OpenSlotQuerySerializer,
    SlotCreateSerializer,
    SlotSerializer,
)
from apps.scheduling.services import slot_create


class SlotCreateView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        operation_id="scheduling_slots_create",
        request=SlotCreateSerializer,
        responses={201: SlotSerializer},
        summary="Open a slot for a teacher (admin only)",
    )
    def post(self, request):
        serializer = SlotCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        slot = slot_create(actor=request.user, **serializer.validated_data)
        return Response(SlotSerializer(slot).data, status=status.HTTP_201_CREATED)


class OpenSlotListView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="scheduling_slots_open_list",
        parameters=[
            OpenApiParameter("teacher_id", OpenApiTypes.UUID, description="Only this teacher's slots"),
            OpenApiParameter("from", OpenApiTypes.DATETIME, description="start_at >= from (with offset)"),
            OpenApiParameter("to", OpenApiTypes.DATETIME, description="start_at < to (with offset)"),
            *PAGE_PARAMETERS,
        ],
        responses={200: page_serializer(SlotSerializer)},
        summary="Open slots that start in the future, soonest first (public)",
    )
    def get(self, request):
        # an empty parameter (`?teacher_id=`) means "not given"
        params = {
            key: request.query_params[key] for key in ("teacher_id", "from", "to") if request.query_params.get(key)
        }
        query = OpenSlotQuerySerializer(data=params)
        query.is_valid(raise_exception=True)
        bounds = LimitOffsetPage()
        bounds.read_bounds(request)  # a bad limit/offset is a 400 before any cache lookup
        filters = {
            "teacher_id": query.validated_data.get("teacher_id"),
            "start_from": query.validated_data.get("from"),
            "start_to": query.validated_data.get("to"),
        }
        page = cached_open_slot_page(
            (*filters.values(), bounds.limit, bounds.offset),
            lambda: page_data(request=request, queryset=open_slot_list(**filters), serializer_class=SlotSerializer),
        )
        return Response(page)
