"""Django admin for users: email is the login, there is no username."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm

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
        fields = ("email", "role", "timezone")

    def clean_email(self) -> str:
        return _clean_unique_email(self)


class UserAdminChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        return _clean_unique_email(self)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    list_display = ("email", "role", "is_active", "is_staff", "created_at")
    list_filter = ("role", "is_active", "is_staff", "is_superuser")
    search_fields = ("email",)
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    # is_active changes through the actions below, which also revoke sessions.
    readonly_fields = ("is_active", "last_login", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("role", "timezone")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "role", "timezone", "usable_password", "password1", "password2"),
            },
        ),
    )
    actions = ["deactivate_users", "activate_users"]

    @admin.action(description="Deactivate selected users (revokes their refresh tokens)")
    def deactivate_users(self, request, queryset):
        changed = 0
        for user in queryset:
            if user.pk == request.user.pk:
                self.message_user(request, "You cannot deactivate yourself.", level=messages.WARNING)
                continue
            if user.is_active:
                user_set_active(user=user, is_active=False, actor=request.user)
                changed += 1
        self.message_user(request, f"Deactivated {changed} user(s).")

    @admin.action(description="Activate selected users")
    def activate_users(self, request, queryset):
        changed = 0
        for user in queryset:
            if not user.is_active:
                user_set_active(user=user, is_active=True, actor=request.user)
                changed += 1
        self.message_user(request, f"Activated {changed} user(s).")
