from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.pagination import (
    PAGE_PARAMETERS,
    bounded_int_parameter,
    page_serializer,
    paginated_response,
    parse_bounded_int,
)
from apps.common.permissions import IsAdmin, IsAdminOrTeacher
from apps.notifications import selectors, services
from apps.notifications.serializers import (
    DeliveryMetricsSerializer,
    NotificationCreateSerializer,
    NotificationSerializer,
    NotificationStatusSerializer,
)


class NotificationCreateView(APIView):
    permission_classes = [IsAdminOrTeacher]

    @extend_schema(request=NotificationCreateSerializer, responses={201: NotificationSerializer})
    def post(self, request):
        serializer = NotificationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        notification = services.notification_create(actor=request.user, **serializer.validated_data)
        return Response(NotificationSerializer(notification).data, status=status.HTTP_201_CREATED)


class NotificationStatusView(APIView):
    @extend_schema(request=NotificationStatusSerializer, responses={200: NotificationSerializer})
    def patch(self, request, notification_id):
        serializer = NotificationStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        notification = services.notification_status_update(
            actor=request.user, notification_id=notification_id, status=serializer.validated_data["status"]
        )
        return Response(NotificationSerializer(notification).data)


class MyNotificationListView(APIView):
    @extend_schema(parameters=PAGE_PARAMETERS, responses={200: page_serializer(NotificationSerializer)})
    def get(self, request):
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.notification_list_for_user(user=request.user),
            serializer_class=NotificationSerializer,
        )


class DeliveryMetricsView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        parameters=[
            bounded_int_parameter(
                "max_retries",
                default=settings.OUTBOX_WORKER_MAX_RETRIES,
                minimum=1,
                maximum=100,
                description="Dead-letter threshold, 1..100 (default 5).",
            )
        ],
        responses={200: DeliveryMetricsSerializer},
    )
    def get(self, request):
        max_retries = parse_bounded_int(
            request.query_params,
            "max_retries",
            default=settings.OUTBOX_WORKER_MAX_RETRIES,
            minimum=1,
            maximum=100,
        )
        return Response(DeliveryMetricsSerializer(selectors.delivery_metrics(max_retries=max_retries)).data)
