from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.admin_ops.metrics import metrics
from apps.common import views as service_views

# Every app's router carries the SPEC's section paths ("booking", "lessons", "identity/auth"...),
# so all of them mount at /api/v1/. An app may serve a route under another section's path when
# the work needs it (booking serves `POST /lessons`: lessons sit below booking and never import it).
API_V1_APPS = [
    "identity",
    "teachers",
    "scheduling",
    "booking",
    "billing",
    "lessons",
    "notifications",
    "admin_ops",
    "audit",
]

urlpatterns = [
    path("health", service_views.health, name="health"),
    path("ready", service_views.ready, name="ready"),
    path("metrics", metrics, name="metrics"),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script from a URL: no inline script for the CSP to allow.
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="docs"),
    path("admin/", admin.site.urls),
    *(path("api/v1/", include(f"apps.{app}.urls")) for app in API_V1_APPS),
]

handler400 = "apps.common.views.bad_request"
handler403 = "apps.common.views.permission_denied"
handler404 = "apps.common.views.not_found"
handler500 = "apps.common.views.server_error"
