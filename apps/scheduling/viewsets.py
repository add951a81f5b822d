"""Scheduling endpoints: slots (SPEC §3 Scheduling) and weekly schedules (SPEC §8.3)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import AllowAny

from apps.common.pagination import LimitOffsetPage, page_data
from apps.common.permissions import IsAdmin, IsAdminOrTeacher
from apps.common.viewsets import ApiViewSet, endpoint
from apps.scheduling.open_slots_cache import cached_open_slot_page
from apps.scheduling.selectors import open_slot_list, schedule_get
from apps.scheduling.serializers import (
    GenerateCountsSerializer,
    OpenSlotQuerySerializer,
    ScheduleGenerateSerializer,
    ScheduleReplaceSerializer,
    ScheduleSerializer,
    SlotCreateSerializer,
    SlotSerializer,
)
from apps.scheduling.services import schedule_generate, schedule_replace, slot_create

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


class TeacherScheduleViewSet(ApiViewSet):
    """A teacher's weekly schedule (`/scheduling/teachers/{teacher_id}/schedule`): admins, or that teacher."""

    serializer_class = ScheduleSerializer
    permission_classes = [IsAdminOrTeacher]
    lookup_url_kwarg = "teacher_id"

    @endpoint("get", "schedule", detail=True)
    def schedule(self, request, teacher_id):
        """A teacher's weekly schedule (admin, or that teacher)."""
        return schedule_get(viewer=request.user, teacher_id=teacher_id)

    @endpoint("put", "schedule", detail=True, body=ScheduleReplaceSerializer)
    def replace(self, request, teacher_id, body):
        """Create or replace a teacher's weekly schedule, whole (admin, or that teacher)."""
        return schedule_replace(actor=request.user, teacher_id=teacher_id, **body)

    @endpoint(
        "post", "schedule/generate", detail=True, body=ScheduleGenerateSerializer, returns=GenerateCountsSerializer
    )
    def generate(self, request, teacher_id, body):
        """Cut the weekly schedule into open slots for local dates from_date..to_date (admin, or that teacher)."""
        return schedule_generate(actor=request.user, teacher_id=teacher_id, **body)
