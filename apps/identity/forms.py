"""The Django admin's login form, under the same per-IP login budget as the API (SPEC §8.6)."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from apps.common.errors import RateLimited
from apps.identity.ratelimits import enforce_auth_rate_limit


class RateLimitedAdminLoginForm(AdminAuthenticationForm):
    """Counts every submitted staff login against the client's `login` budget before the password is looked at.

    The counter is the one `POST /api/v1/identity/auth/login` uses, so an
    attacker gets one budget for both doors. Past it the form refuses without
    authenticating: even the right password opens no session until the window
    ends. `retry_after` tells the admin site to answer 429 with `Retry-After`.
    """

    retry_after: int | None = None

    def clean(self):
        try:
            enforce_auth_rate_limit(self.request, scope="login")
        except RateLimited as exc:
            self.retry_after = exc.retry_after
            message = ngettext(
                "Too many login attempts from your address. Logging in is paused: try again in %(seconds)d second.",
                "Too many login attempts from your address. Logging in is paused: try again in %(seconds)d seconds.",
                exc.retry_after,
            )
            raise ValidationError(message, code="rate_limited", params={"seconds": exc.retry_after}) from None
        return super().clean()
