"""The project's admin site: Django's, with the staff login under the API's login rate limit
and the staff dashboard (apps/admin_ops/dashboard.py) as its index page."""

from http import HTTPStatus

from django.contrib import admin

from apps.admin_ops import dashboard
from apps.identity.forms import RateLimitedAdminLoginForm


class StaffAdminSite(admin.AdminSite):
    """`admin.site` for this project (installed through `guitaronline.apps.StaffAdminConfig`)."""

    login_form = RateLimitedAdminLoginForm
    index_template = "admin_ops/dashboard.html"
    site_header = "GuitarOnline"
    site_title = "GuitarOnline staff"
    index_title = "School office"

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        # Over the limit, the form carries the wait: still Django's login page, but a 429 a client can act on.
        form = (getattr(response, "context_data", None) or {}).get("form")
        retry_after = getattr(form, "retry_after", None)
        if retry_after:
            response.status_code = HTTPStatus.TOO_MANY_REQUESTS
            response["Retry-After"] = str(retry_after)
        return response

    def get_urls(self):
        return dashboard.dashboard_urls(self) + super().get_urls()

    def index(self, request, extra_context=None):
        """Django's index (every app and model) under the staff dashboard, for the school's admins."""
        context = {"dashboard": None}
        if dashboard.can_use_dashboard(request.user):
            context["dashboard"] = dashboard.dashboard_context(request)
        return super().index(request, {**context, **(extra_context or {})})
