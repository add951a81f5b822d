from django.apps import AppConfig


class AdminOpsConfig(AppConfig):
    name = "apps.admin_ops"
    label = "admin_ops"
    verbose_name = "Admin operations"
    default_auto_field = "django.db.models.BigAutoField"
