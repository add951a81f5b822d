"""The project's admin site: Django's, with the staff login under the API's login rate limit."""

from http import HTTPStatus

from django.contrib import admin

from apps.identity.forms import RateLimitedAdminLoginForm


class StaffAdminSite(admin.AdminSite):
    """`admin.site` for this project (installed through `guitaronline.apps.StaffAdminConfig`)."""

    login_form = RateLimitedAdminLoginForm

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        # Over the limit, the form carries the wait: still Django's login page, but a 429 a client can act on.
        form = (getattr(response, "context_data", None) or {}).get("form")
        retry_after = getattr(form, "retry_after", None)
        if retry_after:
            response.status_code = HTTPStatus.TOO_MANY_REQUESTS
            response["Retry-After"] = str(retry_after)
        return response
