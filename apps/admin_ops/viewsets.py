"""Admin-operations endpoints (SPEC §3 Admin operations): admin only."""

from apps.admin_ops import selectors, services
from apps.admin_ops.serializers import (
    AdminActionCreateSerializer,
    AdminActionSerializer,
    AdminTeacherListQuerySerializer,
    AdminTeacherSerializer,
    AdminUserListQuerySerializer,
    KpiOverviewSerializer,
    KpiSalesQuerySerializer,
    KpiSalesSerializer,
    OpsOverviewSerializer,
    UserRoleSerializer,
)
from apps.audit.serializers import MaxRetriesQuerySerializer
from apps.booking.serializers import TeacherDisabledSerializer, TeacherDisableSerializer
from apps.booking.services import teacher_disable
from apps.common.permissions import IsAdmin
from apps.common.viewsets import ApiViewSet, endpoint
from apps.identity import selectors as identity_selectors
from apps.identity import services as identity_services
from apps.identity.serializers import UserSerializer


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


class AdminUserViewSet(ApiViewSet):
    """People (SPEC §8.1): staff find accounts, change roles, deactivate and reactivate them."""

    serializer_class = UserSerializer
    permission_classes = [IsAdmin]
    lookup_url_kwarg = "user_id"

    @endpoint(query=AdminUserListQuerySerializer, page=True)
    def list(self, request, query):
        """Users, newest first; filter by role and active flag, `q` searches email and full name."""
        return identity_selectors.user_list(**query)

    @endpoint("post", detail=True, body=UserRoleSerializer)
    def role(self, request, user_id, body):
        """Give a user another role (not your own; a teacher must be disabled first)."""
        return services.user_role_change(actor=request.user, user_id=user_id, **body)

    @endpoint("post", detail=True)
    def deactivate(self, request, user_id):
        """Deactivate a user (not yourself): their refresh tokens are revoked and their access tokens refused."""
        return identity_services.user_set_active(actor=request.user, user_id=user_id, is_active=False)

    @endpoint("post", detail=True)
    def activate(self, request, user_id):
        """Reactivate a user (not yourself); revoked tokens stay revoked, they log in again."""
        return identity_services.user_set_active(actor=request.user, user_id=user_id, is_active=True)


class AdminTeacherViewSet(ApiViewSet):
    """The teacher roster (SPEC §8.2): every teacher user with profile and lesson counts."""

    serializer_class = AdminTeacherSerializer
    permission_classes = [IsAdmin]
    lookup_url_kwarg = "teacher_id"

    @endpoint(query=AdminTeacherListQuerySerializer, page=True)
    def list(self, request, query):
        """Teachers, newest first, with upcoming and completed lesson counts."""
        return selectors.admin_teacher_list(**query)

    @endpoint("post", detail=True, body=TeacherDisableSerializer, returns=TeacherDisabledSerializer)
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
