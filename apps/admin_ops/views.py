"""Admin-operations endpoints (SPEC §3 Admin operations): admin only."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.admin_ops import selectors, services
from apps.admin_ops.serializers import (
    AdminActionCreateSerializer,
    AdminActionSerializer,
    KpiOverviewSerializer,
    OpsOverviewSerializer,
)
from apps.common.pagination import (
    PAGE_PARAMETERS,
    bounded_int_parameter,
    page_serializer,
    paginated_response,
    parse_bounded_int,
)
from apps.common.permissions import IsAdmin

MAX_RETRIES_MINIMUM = 1
MAX_RETRIES_MAXIMUM = 100


class AdminActionListCreateView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        operation_id="admin_actions_list",
        parameters=PAGE_PARAMETERS,
        responses=page_serializer(AdminActionSerializer),
    )
    def get(self, request):
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.admin_action_list(),
            serializer_class=AdminActionSerializer,
        )

    @extend_schema(
        operation_id="admin_actions_create",
        request=AdminActionCreateSerializer,
        responses={201: AdminActionSerializer},
    )
    def post(self, request):
        serializer = AdminActionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        admin_action = services.admin_action_create(admin=request.user, **serializer.validated_data)
        return Response(AdminActionSerializer(admin_action).data, status=status.HTTP_201_CREATED)


class KpiOverviewView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(operation_id="admin_kpi_overview", responses=KpiOverviewSerializer)
    def get(self, request):
        return Response(KpiOverviewSerializer(selectors.kpi_overview()).data)


class OpsOverviewView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        operation_id="admin_ops_overview",
        parameters=[
            bounded_int_parameter(
                "max_retries",
                default=settings.OUTBOX_WORKER_MAX_RETRIES,
                minimum=MAX_RETRIES_MINIMUM,
                maximum=MAX_RETRIES_MAXIMUM,
                description="Failed outbox events with retries below this are retryable, the rest dead-lettered "
                f"({MAX_RETRIES_MINIMUM}..{MAX_RETRIES_MAXIMUM}; default OUTBOX_WORKER_MAX_RETRIES, 5).",
            )
        ],
        responses=OpsOverviewSerializer,
    )
    def get(self, request):
        max_retries = parse_bounded_int(
            request.query_params,
            "max_retries",
            default=settings.OUTBOX_WORKER_MAX_RETRIES,
            minimum=MAX_RETRIES_MINIMUM,
            maximum=MAX_RETRIES_MAXIMUM,
        )
        return Response(OpsOverviewSerializer(selectors.ops_overview(max_retries=max_retries)).data)
