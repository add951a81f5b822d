from django import forms
from django.contrib import admin, messages

from apps.common.admin import NoAddDeleteAdmin
from apps.common.errors import DomainError
from apps.teachers.models import TeacherProfile
from apps.teachers.services import teacher_profile_update


class TeacherProfileAdminForm(forms.ModelForm):
    class Meta:
        model = TeacherProfile
        fields = ["display_name", "bio", "experience_years"]

    def clean_experience_years(self):
        value = self.cleaned_data["experience_years"]
        if not 0 <= value <= 80:
            raise forms.ValidationError("Must be between 0 and 80.")
        return value

    def clean_display_name(self):
        value = self.cleaned_data["display_name"].strip()
        if len(value) < 2:
            raise forms.ValidationError("Must be at least 2 characters.")
        return value


@admin.register(TeacherProfile)
class TeacherProfileAdmin(NoAddDeleteAdmin):
    """Profiles are created through the API; edits and approval go through the same service (and audit)."""

    form = TeacherProfileAdminForm
    list_display = ("display_name", "user", "experience_years", "is_approved", "created_at")
    list_filter = ("is_approved",)
    search_fields = ("display_name", "user__email")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    readonly_fields = ("id", "user", "is_approved", "created_at", "updated_at")
    fields = ("id", "user", "display_name", "bio", "experience_years", "is_approved", "created_at", "updated_at")
    actions = ("approve", "unapprove")

    def save_model(self, request, obj, form, change):
        data = {field: form.cleaned_data[field] for field in form.changed_data}
        teacher_profile_update(actor=request.user, profile_id=obj.pk, data=data)
        obj.refresh_from_db()

    def _set_approval(self, request, queryset, approved: bool) -> None:
        done = 0
        for profile_id in queryset.values_list("pk", flat=True):
            try:
                teacher_profile_update(actor=request.user, profile_id=profile_id, data={"is_approved": approved})
                done += 1
            except DomainError as exc:
                self.message_user(request, f"{profile_id}: {exc.message}", level=messages.ERROR)
        self.message_user(request, f"{done} profile(s) {'approved' if approved else 'unapproved'}.")

    @admin.action(description="Approve selected profiles")
    def approve(self, request, queryset):
        self._set_approval(request, queryset, True)

    @admin.action(description="Withdraw approval of selected profiles")
    def unapprove(self, request, queryset):
        self._set_approval(request, queryset, False)
