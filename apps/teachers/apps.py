from django.apps import AppConfig


class TeachersConfig(AppConfig):
    name = "apps.teachers"
    label = "teachers"
    verbose_name = "Teachers"
    default_auto_field = "django.db.models.BigAutoField"
