"""Billing endpoints (SPEC §3 Billing, §8.4): plans, packages and payments."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.permissions import AllowAny, IsAuthenticated

from apps.billing import selectors, services
from apps.billing.serializers import (
    ExpiredCountSerializer,
    PackageCreateSerializer,
    PackageSerializer,
    PaymentCreateSerializer,
    PaymentListQuerySerializer,
    PaymentSerializer,
    PaymentStatusSerializer,
    PlanCreateSerializer,
    PlanSerializer,
    PlanUpdateSerializer,
)
from apps.common.pagination import cached_page_data
from apps.common.permissions import IsAdmin, IsAdminOrStudent
from apps.common.viewsets import AdminViewSet, ApiViewSet, endpoint

_PACKAGE_FILTER = [OpenApiParameter("package_id", OpenApiTypes.UUID, description="Only this package's payments")]


class PackageViewSet(AdminViewSet):
    serializer_class = PackageSerializer

    @endpoint(body=PackageCreateSerializer, status=201)
    def create(self, request, body):
        """Give a student a lesson package, by hand or from a plan (admins)."""
        return services.package_create(actor=request.user, **body)

    # Operation ids of the first release, kept for generated clients.
    @endpoint("post", returns=ExpiredCountSerializer, operation_id="billing_packages_expire_create")
    def expire(self, request):
        """Expire every active package past its expires_at (admins)."""
        return {"expired": services.packages_expire_due(actor=request.user)}

    @endpoint(
        "get",
        "students/<uuid:student_id>",
        page=True,
        permissions=[IsAuthenticated],
        operation_id="billing_packages_students_retrieve",
    )
    def of_student(self, request, student_id):
        """A student's packages, newest first (admins, or that student)."""
        selectors.package_list_check_access(viewer=request.user, student_id=student_id)  # 403 before the cache
        scope, key = selectors.package_list_scope(student_id=student_id)
        return cached_page_data(
            request=request,
            scope=scope,
            key=key,
            rows=lambda: selectors.package_list_for_student(viewer=request.user, student_id=student_id),
            serializer_class=PackageSerializer,
        )


class PaymentViewSet(ApiViewSet):
    serializer_class = PaymentSerializer
    permission_classes = [IsAdminOrStudent]
    lookup_url_kwarg = "payment_id"

    @endpoint(query=PaymentListQuerySerializer, page=True, parameters=_PACKAGE_FILTER)
    def list(self, request, query):
        """Payments, newest first: all for an admin, a student's own."""
        return selectors.payment_list(viewer=request.user, **query)

    @endpoint(body=PaymentCreateSerializer, status=201)
    def create(self, request, body):
        """Record a pending payment for a package (admin, or the student who owns it)."""
        return services.payment_create(actor=request.user, **body)

    @endpoint(
        "patch",
        detail=True,
        body=PaymentStatusSerializer,
        permissions=[IsAdmin],
        operation_id="billing_payments_status_partial_update",
    )
    def status(self, request, payment_id, body):
        """Move a payment along its state machine (admins)."""
        return services.payment_set_status(actor=request.user, payment_id=payment_id, **body)


class PlanViewSet(AdminViewSet):
    serializer_class = PlanSerializer
    lookup_url_kwarg = "plan_id"

    @endpoint(page=True, permissions=[AllowAny])
    def list(self, request):
        """The plan catalog, cheapest first: active plans (every plan for an admin)."""
        return selectors.plan_list(viewer=request.user)

    @endpoint(body=PlanCreateSerializer, status=201)
    def create(self, request, body):
        """Add a plan to the catalog (admins)."""
        return services.plan_create(actor=request.user, **body)

    @endpoint(body=PlanUpdateSerializer)
    def partial_update(self, request, plan_id, body):
        """Change a plan; packages already sold keep their terms (admins)."""
        return services.plan_update(actor=request.user, plan_id=plan_id, data=body)
