"""Audit endpoints (SPEC §3 Audit): admin only."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.audit import selectors, services
from apps.audit.serializers import (
    AuditLogCreateSerializer,
    AuditLogListQuerySerializer,
    AuditLogSerializer,
    OutboxEventSerializer,
)
from apps.common.pagination import (
    PAGE_PARAMETERS,
    bounded_int_parameter,
    page_serializer,
    paginated_response,
    parse_bounded_int,
)
from apps.common.permissions import IsAdmin

# Free text, but never a NUL character (refused with a 400).
_FILTER_TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}


class AuditLogListCreateView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        operation_id="audit_logs_list",
        parameters=[
            OpenApiParameter("action", _FILTER_TEXT, description="Exact action, e.g. booking.confirm"),
            OpenApiParameter("entity_type", _FILTER_TEXT, description="Exact entity type, e.g. booking"),
            *PAGE_PARAMETERS,
        ],
        responses=page_serializer(AuditLogSerializer),
    )
    def get(self, request):
        query = AuditLogListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        queryset = selectors.audit_log_list(
            action=query.validated_data.get("action"),
            entity_type=query.validated_data.get("entity_type"),
        )
        return paginated_response(request=request, view=self, queryset=queryset, serializer_class=AuditLogSerializer)

    @extend_schema(
        operation_id="audit_logs_create", request=AuditLogCreateSerializer, responses={201: AuditLogSerializer}
    )
    def post(self, request):
        serializer = AuditLogCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        log = services.audit_log_create(actor=request.user, **serializer.validated_data)
        return Response(AuditLogSerializer(log).data, status=status.HTTP_201_CREATED)


class OutboxPendingView(APIView):
    permission_classes = [IsAdmin]
    pagination_class = None

    @extend_schema(
        operation_id="audit_outbox_pending",
        parameters=[
            bounded_int_parameter(
                "limit",
                default=selectors.OUTBOX_PENDING_DEFAULT_LIMIT,
                minimum=1,
                maximum=selectors.OUTBOX_PENDING_MAX_LIMIT,
                description=(
                    f"1..{selectors.OUTBOX_PENDING_MAX_LIMIT}, default {selectors.OUTBOX_PENDING_DEFAULT_LIMIT}"
                ),
            )
        ],
        responses=OutboxEventSerializer(many=True),
    )
    def get(self, request):
        limit = parse_bounded_int(
            request.query_params,
            "limit",
            default=selectors.OUTBOX_PENDING_DEFAULT_LIMIT,
            minimum=1,
            maximum=selectors.OUTBOX_PENDING_MAX_LIMIT,
        )
        events = selectors.outbox_pending_list(limit=limit)
        return Response(OutboxEventSerializer(events, many=True).data)
