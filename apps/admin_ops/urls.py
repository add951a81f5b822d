from django.urls import path

from apps.admin_ops import views

urlpatterns = [
    path("actions", views.AdminActionListCreateView.as_view(), name="admin-actions"),
    path("kpi/overview", views.KpiOverviewView.as_view(), name="admin-kpi-overview"),
    path("ops/overview", views.OpsOverviewView.as_view(), name="admin-ops-overview"),
]
