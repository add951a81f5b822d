"""Django admin for users: email is the login, there is no username.

`UserAdmin` is registered by apps/admin_ops/admin.py, which adds the role
actions: changing a teacher's role needs the booking guard of
`apps.admin_ops.services.user_role_change`, and identity sits below booking.
Every state change here goes through the same services as the API, with the
signed-in staff member as the actor; a refusal becomes an error message.
"""

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

from apps.common.errors import DomainError
from apps.identity.models import User
from apps.identity.services import user_set_active


def _clean_unique_email(form: forms.ModelForm) -> str:
    email = form.cleaned_data["email"].strip().lower()
    duplicates = User.objects.filter(email__iexact=email)
    if form.instance.pk:
        duplicates = duplicates.exclude(pk=form.instance.pk)
    if duplicates.exists():
        raise forms.ValidationError("A user with this email already exists.")
    return email


class UserAdminCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name", "role", "timezone")

    def clean_email(self) -> str:
        return _clean_unique_email(self)


class UserAdminChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        return _clean_unique_email(self)


def refusal_text(error: DomainError) -> str:
    """A domain error as one line for an admin message, with its details (what is left, which field...)."""
    if not error.details:
        return error.message
    details = ", ".join(f"{key}: {value}" for key, value in error.details.items())
    return f"{error.message} ({details})"


class UserAdmin(DjangoUserAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    list_display = ("email", "full_name", "role", "is_active", "is_staff", "created_at")
    list_filter = ("role", "is_active", "is_staff", "is_superuser")
    search_fields = ("email", "full_name")
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    # is_active and role change through the actions (services with their rules, audit and token revocation).
    readonly_fields = ("is_active", "last_login", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name", "role", "timezone")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "role", "timezone", "usable_password", "password1", "password2"),
            },
        ),
    )
    actions = ["deactivate_users", "activate_users"]

    def get_readonly_fields(self, request, obj=None):
        # A new user's role is chosen in the add form; afterwards only the role actions change it.
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "role") if obj is not None else fields

    def apply_to_each(self, request, queryset, change: Callable[[object], object], *, done: str) -> None:
        """Run a service for each selected user; refusals become error messages, the rest one summary."""
        changed = 0
        for user in queryset.order_by("email"):
            try:
                result = change(user.pk)
            except DomainError as error:
                self.message_user(request, f"{user.email}: {refusal_text(error)}", level=messages.ERROR)
                continue
            changed += result.updated_at != user.updated_at  # the services write nothing for a no-op
        self.message_user(request, done.format(count=changed))

    @admin.action(description="Deactivate selected users (revokes their refresh tokens)")
    def deactivate_users(self, request, queryset):
        self.apply_to_each(
            request,
            queryset,
            lambda user_id: user_set_active(actor=request.user, user_id=user_id, is_active=False),
            done="Deactivated {count} user(s).",
        )

    @admin.action(description="Activate selected users")
    def activate_users(self, request, queryset):
        self.apply_to_each(
            request,
            queryset,
            lambda user_id: user_set_active(actor=request.user, user_id=user_id, is_active=True),
            done="Activated {count} user(s).",
        )
