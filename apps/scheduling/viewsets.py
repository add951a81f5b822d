"""Scheduling endpoints (SPEC §3 Scheduling): slots."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import AllowAny

from apps.common.pagination import LimitOffsetPage, page_data
from apps.common.permissions import IsAdmin
from apps.common.viewsets import ApiViewSet, endpoint
from apps.scheduling.open_slots_cache import cached_open_slot_page
from apps.scheduling.selectors import open_slot_list
from apps.scheduling.serializers import OpenSlotQuerySerializer, SlotCreateSerializer, SlotSerializer
from apps.scheduling.services import slot_create

_OPEN_SLOT_FILTERS = [
    OpenApiParameter("teacher_id", OpenApiTypes.UUID, description="Only this teacher's slots"),
    OpenApiParameter("from", OpenApiTypes.DATETIME, description="start_at >= from (with offset)"),
    OpenApiParameter("to", OpenApiTypes.DATETIME, description="start_at < to (with offset)"),
]


class SlotViewSet(ApiViewSet):
    serializer_class = SlotSerializer

    @endpoint(body=SlotCreateSerializer, status=201, permissions=[IsAdmin])
    def create(self, request, body):
        """Open a slot for a teacher (admin only)."""
        return slot_create(actor=request.user, **body)

    @endpoint(query=OpenSlotQuerySerializer, page=True, permissions=[AllowAny], parameters=_OPEN_SLOT_FILTERS)
    def open(self, request, query):
        """Open slots that start in the future, soonest first (public)."""
        bounds = LimitOffsetPage()
        bounds.read_bounds(request)  # a bad limit/offset is a 400 before any cache lookup
        filters = {"teacher_id": query.get("teacher_id"), "start_from": query.get("from"), "start_to": query.get("to")}
        return cached_open_slot_page(
            (*filters.values(), bounds.limit, bounds.offset),
            lambda: page_data(request=request, queryset=open_slot_list(**filters), serializer_class=SlotSerializer),
        )
