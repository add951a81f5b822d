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


def person(user) -> str:
    """How admin lists name a user: their full name when they have one, else their email (lists search both)."""
    return (getattr(user, "full_name", "") or "").strip() or user.email


def teacher_name(user) -> str:
    """A teacher as students know them: their profile's display name, else `person(user)`.

    Select the profile with the row (`list_select_related = ("teacher__teacher_profile", ...)`),
    or each row costs a query.
    """
    profile = getattr(user, "teacher_profile", None)  # a missing profile raises an AttributeError subclass
    return profile.display_name if profile is not None else person(user)
