from django.contrib.admin.apps import AdminConfig


class StaffAdminConfig(AdminConfig):
    """Django's admin app with our `StaffAdminSite` as `admin.site` (every `@admin.register` lands there)."""

    default_site = "guitaronline.admin.StaffAdminSite"
