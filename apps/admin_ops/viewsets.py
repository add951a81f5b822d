"""Admin-operations endpoints (SPEC §3 Admin operations): admin only."""

from apps.admin_ops import selectors, services
from apps.admin_ops.serializers import (
    AdminActionCreateSerializer,
    AdminActionSerializer,
    KpiOverviewSerializer,
    KpiSalesQuerySerializer,
    KpiSalesSerializer,
    OpsOverviewSerializer,
)
from apps.audit.serializers import MaxRetriesQuerySerializer
from apps.booking.serializers import TeacherDisabledSerializer, TeacherDisableSerializer
from apps.booking.services import teacher_disable
from apps.common.permissions import IsAdmin
from apps.common.viewsets import ApiViewSet, endpoint


class AdminActionViewSet(ApiViewSet):
    serializer_class = AdminActionSerializer
    permission_classes = [IsAdmin]

    @endpoint(page=True)
    def list(self, request):
        """The staff journal, newest first."""
        return selectors.admin_action_list()

    @endpoint(body=AdminActionCreateSerializer, status=201)
    def create(self, request, body):
        """Record a staff operation (admin = caller)."""
        return services.admin_action_create(admin=request.user, **body)


class OverviewViewSet(ApiViewSet):
    permission_classes = [IsAdmin]

    @endpoint("get", "kpi/overview", returns=KpiOverviewSerializer)
    def kpi_overview(self, request):
        """The school in numbers: users, bookings, lessons, payments and packages by status."""
        return selectors.kpi_overview()

    @endpoint("get", "ops/overview", query=MaxRetriesQuerySerializer, returns=OpsOverviewSerializer)
    def ops_overview(self, request, query):
        """What needs an operator now: outbox, failed notifications, stale holds, overdue packages."""
        return selectors.ops_overview(**query)


class TeacherDisableViewSet(ApiViewSet):
    """`POST /api/v1/admin/teachers/{teacher_id}/disable` (SPEC §8.2); the cascade is booking's service."""

    serializer_class = TeacherDisabledSerializer
    permission_classes = [IsAdmin]
    lookup_url_kwarg = "teacher_id"

    @endpoint("post", detail=True, body=TeacherDisableSerializer)
    def disable(self, request, teacher_id, body):
        """Disable a teacher: unapprove, cancel future bookings (lessons refunded) and open slots (admins)."""
        return teacher_disable(actor=request.user, teacher_id=teacher_id, **body)


class SalesViewSet(ApiViewSet):
    """`GET /api/v1/admin/kpi/sales` (SPEC §8.4)."""

    permission_classes = [IsAdmin]

    @endpoint("get", "sales", query=KpiSalesQuerySerializer, returns=KpiSalesSerializer)
    def sales(self, request, query):
        """Money received and refunded, and packages sold, over [from, to) (at most 366 days)."""
        return selectors.kpi_sales(start=query["from"], end=query["to"])
