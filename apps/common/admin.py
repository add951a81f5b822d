"""Django-admin base classes: staff change state through actions that call the services."""

from django.contrib import admin


class NoAddDeleteAdmin(admin.ModelAdmin):
    """Rows are born and retired by the domain services (with audit and outbox), never by a raw form."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ReadOnlyAdmin(NoAddDeleteAdmin):
    """A record to inspect, never to edit (audit trail, outbox, journals)."""

    def has_change_permission(self, request, obj=None) -> bool:
        return False
