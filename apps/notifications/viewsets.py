"""Notification endpoints (SPEC §3 Notifications, relative to /api/v1)."""

from apps.audit.serializers import MaxRetriesQuerySerializer
from apps.common.pagination import cached_page_data
from apps.common.permissions import IsAdmin, IsAdminOrTeacher
from apps.common.viewsets import ApiViewSet, endpoint
from apps.notifications import selectors, services
from apps.notifications.serializers import (
    DeliveryMetricsSerializer,
    NotificationCreateSerializer,
    NotificationSerializer,
    NotificationStatusSerializer,
)


class NotificationViewSet(ApiViewSet):
    serializer_class = NotificationSerializer
    lookup_url_kwarg = "notification_id"

    @endpoint(body=NotificationCreateSerializer, status=201, permissions=[IsAdminOrTeacher])
    def create(self, request, body):
        """Send a notification to a user (admin or teacher); the worker delivers it."""
        return services.notification_create(actor=request.user, **body)

    @endpoint("patch", detail=True, body=NotificationStatusSerializer)
    def status(self, request, notification_id, body):
        """Set a notification's status (admin or its recipient)."""
        return services.notification_status_update(actor=request.user, notification_id=notification_id, **body)

    @endpoint(page=True)
    def my(self, request):
        """Your notifications, newest first."""
        scope, key = selectors.notification_list_scope(user=request.user)
        return cached_page_data(
            request=request,
            scope=scope,
            key=key,
            rows=lambda: selectors.notification_list_for_user(user=request.user),
            serializer_class=NotificationSerializer,
        )

    @endpoint(
        "get",
        "delivery/metrics",
        query=MaxRetriesQuerySerializer,
        returns=DeliveryMetricsSerializer,
        permissions=[IsAdmin],
    )
    def delivery_metrics(self, request, query):
        """Notification and outbox counts by status (admins)."""
        return selectors.delivery_metrics(**query)
