from django.urls import path

from apps.audit import views

urlpatterns = [
    path("logs", views.AuditLogListCreateView.as_view(), name="audit-logs"),
    path("outbox/pending", views.OutboxPendingView.as_view(), name="audit-outbox-pending"),
]
