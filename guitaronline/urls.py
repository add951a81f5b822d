from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.admin_ops.metrics import metrics
from apps.common import views as service_views

api_v1 = [
    path("identity/", include("apps.identity.urls")),
    path("teachers/", include("apps.teachers.urls")),
    path("scheduling/", include("apps.scheduling.urls")),
    path("booking/", include("apps.booking.urls")),
    path("billing/", include("apps.billing.urls")),
    path("lessons/", include("apps.lessons.urls")),
    path("notifications/", include("apps.notifications.urls")),
    path("admin/", include("apps.admin_ops.urls")),
    path("audit/", include("apps.audit.urls")),
]

urlpatterns = [
    path("health", service_views.health, name="health"),
    path("ready", service_views.ready, name="ready"),
    path("metrics", metrics, name="metrics"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script from a URL: no inline script for the CSP to allow.
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
]

handler400 = "apps.common.views.bad_request"
handler403 = "apps.common.views.permission_denied"
handler404 = "apps.common.views.not_found"
handler500 = "apps.common.views.server_error"
