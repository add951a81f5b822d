"""Django admin for plans, packages and payments.

Counters, status and money never change by editing a form: new packages go
through `package_create`, state changes are admin actions calling the same
services as the API, so every change leaves its audit and outbox rows. Plans
are added and edited through `plan_create` / `plan_update`, with the API's
rules (`plan_clean`) checked on the form.
"""

from django import forms
from django.contrib import admin, messages

from apps.billing import services
from apps.billing.models import LessonPackage, PackageStatus, Payment, PaymentStatus, Plan
from apps.common import clock
from apps.common.admin import person
from apps.common.errors import DomainError, InvalidInput
from apps.identity.models import Role


class PackageAddForm(forms.ModelForm):
    class Meta:
        model = LessonPackage
        fields = ["student", "lessons_total", "expires_at"]

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= clock.now():
            raise forms.ValidationError("Must be in the future.")
        return expires_at

    def clean_lessons_total(self):
        total = self.cleaned_data["lessons_total"]
        if total is not None and not 1 <= total <= services.MAX_LESSONS_PER_PACKAGE:
            raise forms.ValidationError(f"Must be between 1 and {services.MAX_LESSONS_PER_PACKAGE}.")
        return total


class OverdueFilter(admin.SimpleListFilter):
    """Active packages past `expires_at`: the ops overview's `overdue_active_packages`."""

    title = "expiry"
    parameter_name = "expiry"

    def lookups(self, request, model_admin):
        return [("overdue", "Overdue (active, past expires_at)")]

    def queryset(self, request, queryset):
        if self.value() == "overdue":
            return queryset.filter(status=PackageStatus.ACTIVE, expires_at__lt=clock.now())
        return queryset


@admin.register(LessonPackage)
class LessonPackageAdmin(admin.ModelAdmin):
    list_display = [
        "student_email",
        "status",
        "lessons",
        "expires_at",
        "lessons_reserved",
        "created_at",
    ]
    list_filter = ["status", OverdueFilter, "expires_at", "created_at"]
    search_fields = ["student__email", "=id"]
    date_hierarchy = "created_at"
    list_select_related = ["student"]
    ordering = ["-created_at"]
    actions = ["expire_due_packages"]
    readonly_fields = [
        "id",
        "student",
        "lessons_total",
        "lessons_left",
        "lessons_reserved",
        "expires_at",
        "status",
        "plan",
        "price",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="student", ordering="student__email")
    def student_email(self, obj: LessonPackage) -> str:
        return person(obj.student)

    @admin.display(description="lessons left / total", ordering="lessons_left")
    def lessons(self, obj: LessonPackage) -> str:
        return f"{obj.lessons_left} / {obj.lessons_total}"

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = PackageAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def get_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else PackageAddForm.Meta.fields

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "student":
            kwargs["queryset"] = db_field.related_model.objects.filter(role=Role.STUDENT).order_by("email")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # Only the add form saves (change forms are read-only); it goes through
        # the service so the package gets its audit and outbox rows.
        if change:
            return
        created = services.package_create(
            actor=request.user,
            student_id=form.cleaned_data["student"].pk,
            lessons_total=form.cleaned_data["lessons_total"],
            expires_at=form.cleaned_data["expires_at"],
        )
        obj.pk = created.pk
        obj._state.adding = False
        obj.refresh_from_db()

    @admin.action(description="Expire due packages (all active packages past expires_at)")
    def expire_due_packages(self, request, queryset):
        # Django asks for a selection before running an action; the service
        # expires every due package whatever was selected, as the cron does.
        expired = services.packages_expire_due(actor=request.user)
        self.message_user(request, f"Expired {expired} packages.", messages.SUCCESS)


@admin.register(Payment)
class PaymentAdmin(admin.ModelAdmin):
    list_display = [
        "student_email",
        "status",
        "amount_with_currency",
        "paid_at",
        "external_reference",
        "created_at",
    ]
    list_filter = ["status", "currency", "paid_at", "created_at"]
    search_fields = ["external_reference", "package__student__email", "=id"]
    date_hierarchy = "created_at"
    list_select_related = ["package__student"]
    ordering = ["-created_at"]
    actions = ["mark_succeeded", "mark_refunded", "mark_failed"]
    readonly_fields = [
        "id",
        "package",
        "amount",
        "currency",
        "status",
        "external_reference",
        "paid_at",
        "refunded_at",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="student", ordering="package__student__email")
    def student_email(self, obj: Payment) -> str:
        return person(obj.package.student)

    @admin.display(description="amount", ordering="amount")
    def amount_with_currency(self, obj: Payment) -> str:
        return f"{obj.amount} {obj.currency}"

    def has_add_permission(self, request) -> bool:
        # Payments are recorded through the API (POST /payments) by the student or staff.
        return False

    def _set_status(self, request, queryset, status: str) -> None:
        changed = 0
        for payment_id in queryset.values_list("pk", flat=True):
            try:
                services.payment_set_status(actor=request.user, payment_id=payment_id, status=status)
            except DomainError as exc:
                self.message_user(request, f"Payment {payment_id}: {exc.message}", messages.ERROR)
            else:
                changed += 1
        if changed:
            self.message_user(request, f"{changed} payment(s) marked {status}.", messages.SUCCESS)

    @admin.action(description="Mark selected payments succeeded")
    def mark_succeeded(self, request, queryset):
        self._set_status(request, queryset, PaymentStatus.SUCCEEDED)

    @admin.action(description="Mark selected payments refunded")
    def mark_refunded(self, request, queryset):
        self._set_status(request, queryset, PaymentStatus.REFUNDED)

    @admin.action(description="Mark selected payments failed")
    def mark_failed(self, request, queryset):
        self._set_status(request, queryset, PaymentStatus.FAILED)


class PlanForm(forms.ModelForm):
    class Meta:
        model = Plan
        fields = list(services.PLAN_FIELDS)

    def clean(self):
        cleaned = super().clean()
        given = {field: cleaned[field] for field in services.PLAN_FIELDS if cleaned.get(field) is not None}
        try:
            cleaned.update(services.plan_clean(data=given))
        except InvalidInput as exc:
            for field, errors in exc.details.items():
                self.add_error(field, errors)
        return cleaned


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    """The catalog. A plan is retired by deactivating it, never deleted (sold packages point at it)."""

    form = PlanForm
    list_display = ["name", "lessons_total", "price", "currency", "validity_days", "is_active", "created_at"]
    list_filter = ["is_active", "currency"]
    search_fields = ["name", "=id"]
    ordering = ["price", "name"]
    actions = ["activate", "deactivate"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change):
        # Through the services, so the API and the admin write the same rows and audit entries.
        if change:
            data = {field: form.cleaned_data[field] for field in form.changed_data if field in services.PLAN_FIELDS}
            saved = services.plan_update(actor=request.user, plan_id=obj.pk, data=data)
        else:
            data = {field: form.cleaned_data[field] for field in services.PLAN_FIELDS}
            saved = services.plan_create(actor=request.user, **data)
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def _set_active(self, request, queryset, is_active: bool) -> None:
        for plan_id in queryset.values_list("pk", flat=True):
            services.plan_update(actor=request.user, plan_id=plan_id, data={"is_active": is_active})
        self.message_user(request, f"{queryset.count()} plan(s) {'activated' if is_active else 'deactivated'}.")

    @admin.action(description="Put selected plans on sale (active)")
    def activate(self, request, queryset):
        self._set_active(request, queryset, True)

    @admin.action(description="Take selected plans off sale (inactive)")
    def deactivate(self, request, queryset):
        self._set_active(request, queryset, False)
