"""Audit endpoints (SPEC §3 Audit): admin only."""

from drf_spectacular.utils import OpenApiParameter

from apps.audit import selectors, services
from apps.audit.serializers import (
    AuditLogCreateSerializer,
    AuditLogListQuerySerializer,
    AuditLogSerializer,
    OutboxEventSerializer,
    OutboxPendingQuerySerializer,
)
from apps.common.viewsets import AdminViewSet, endpoint

# Free text, but never a NUL character (refused with a 400).
_FILTER_TEXT = {"type": "string", "pattern": "^[^\\u0000]*$"}
_FILTERS = [
    OpenApiParameter("action", _FILTER_TEXT, description="Exact action, e.g. booking.confirm"),
    OpenApiParameter("entity_type", _FILTER_TEXT, description="Exact entity type, e.g. booking"),
]


class AuditLogViewSet(AdminViewSet):
    serializer_class = AuditLogSerializer

    @endpoint(query=AuditLogListQuerySerializer, page=True, parameters=_FILTERS)
    def list(self, request, query):
        """The audit log, newest first."""
        return selectors.audit_log_list(**query)

    @endpoint(body=AuditLogCreateSerializer, status=201)
    def create(self, request, body):
        """Record an audit entry (actor = caller)."""
        return services.audit_log_create(actor=request.user, **body)


class OutboxViewSet(AdminViewSet):
    @endpoint(query=OutboxPendingQuerySerializer, returns=OutboxEventSerializer, many=True)
    def pending(self, request, query):
        """Pending outbox events, oldest first (a JSON array, not a page)."""
        return selectors.outbox_pending_list(**query)
