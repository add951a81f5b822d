from django.urls import path

from apps.notifications import views

urlpatterns = [
    path("notifications", views.NotificationCreateView.as_view(), name="notification-create"),
    path("notifications/my", views.MyNotificationListView.as_view(), name="notification-my"),
    path("notifications/delivery/metrics", views.DeliveryMetricsView.as_view(), name="notification-metrics"),
    path(
        "notifications/<uuid:notification_id>/status",
        views.NotificationStatusView.as_view(),
        name="notification-status",
    ),
]
