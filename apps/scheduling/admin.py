import re
import zoneinfo
from datetime import timedelta

from django import forms
from django.contrib import admin, messages

from apps.common import clock
from apps.common.admin import NoAddDeleteAdmin, teacher_name
from apps.common.errors import DomainError
from apps.identity.models import Role, User
from apps.scheduling.models import AvailabilitySlot, WeeklySchedule
from apps.scheduling.schedule_times import (
    SLOT_MINUTES_MAX,
    SLOT_MINUTES_MIN,
    WEEKDAY_NAMES,
    Window,
    minutes_of,
    schedule_problems,
)
from apps.scheduling.services import schedule_generate, schedule_replace, schedule_windows


@admin.register(AvailabilitySlot)
class AvailabilitySlotAdmin(NoAddDeleteAdmin):
    """Slots are created through the API (overlap rule, audit); status moves only through booking.

    Registered again by `apps/booking/admin.py` with the "cancel slots" action:
    canceling a slot cancels its booking, which this app cannot see.
    """

    list_display = ("teacher_column", "status", "start_at", "end_at", "created_at")
    list_filter = ("status", ("teacher", admin.RelatedOnlyFieldListFilter))
    search_fields = ("teacher__email", "teacher__teacher_profile__display_name", "=id")
    date_hierarchy = "start_at"
    list_select_related = ("teacher__teacher_profile",)
    ordering = ("start_at",)
    fields = ("id", "teacher", "created_by_admin", "start_at", "end_at", "status", "created_at", "updated_at")
    readonly_fields = fields

    @admin.display(description="teacher", ordering="teacher__email")
    def teacher_column(self, obj: AvailabilitySlot) -> str:
        return teacher_name(obj.teacher)


# --- weekly schedules ----------------------------------------------------------------------------

_WINDOW_LINE = re.compile(r"^\s*(\w+)\s+(\S+)\s*-\s*(\S+)\s*$")
_WEEKDAYS = {name.lower(): number for number, name in enumerate(WEEKDAY_NAMES)}
GENERATE_WEEKS = 4


def _windows_text(windows: list[Window]) -> str:
    return "\n".join(window.label() for window in windows)


class WeeklyScheduleForm(forms.ModelForm):
    """The schedule as staff edit it: windows one per line ("Mon 09:00-12:00"), checked by the service's own rules."""

    timezone = forms.ChoiceField(choices=[(name, name) for name in sorted(zoneinfo.available_timezones())])
    slot_minutes = forms.IntegerField(min_value=SLOT_MINUTES_MIN, max_value=SLOT_MINUTES_MAX, initial=60)
    windows = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "cols": 30}),
        required=False,
        help_text='One window per line, in the schedule\'s time zone: "Mon 09:00-12:00" (Mon..Sun; 24:00 ends a day).',
    )

    class Meta:
        model = WeeklySchedule
        fields = ("teacher", "timezone", "slot_minutes")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "teacher" in self.fields:
            self.fields["teacher"].queryset = User.objects.filter(role=Role.TEACHER).order_by("email")
        if self.instance.pk:
            self.initial["windows"] = _windows_text(schedule_windows(schedule_id=self.instance.pk))

    def clean_windows(self) -> list[Window]:
        windows, errors = [], []
        lines = [line for line in self.cleaned_data["windows"].splitlines() if line.strip()]
        for number, line in enumerate(lines, start=1):
            match = _WINDOW_LINE.match(line)
            weekday = _WEEKDAYS.get(match.group(1).lower()[:3]) if match else None
            start = minutes_of(match.group(2)) if match else None
            end = minutes_of(match.group(3), end=True) if match else None
            if weekday is None or start is None or end is None:
                errors.append(f'Line {number}: "{line.strip()}" is not like "Mon 09:00-12:00".')
            else:
                windows.append(Window(weekday, start, end))
        if errors:
            raise forms.ValidationError(errors)
        return windows

    def clean(self):
        cleaned = super().clean()
        if {"timezone", "slot_minutes", "windows"} <= set(cleaned):
            problems = schedule_problems(
                windows=cleaned["windows"], slot_minutes=cleaned["slot_minutes"], timezone=cleaned["timezone"]
            )
            for field, found in problems.items():
                if isinstance(found, dict):  # per window: name the line
                    found = [f"Line {int(index) + 1}: {message}" for index, msgs in found.items() for message in msgs]
                self.add_error(field, found)
        return cleaned


@admin.register(WeeklySchedule)
class WeeklyScheduleAdmin(admin.ModelAdmin):
    """Teachers' weekly schedules, saved through `schedule_replace` (same rules and audit as the API)."""

    form = WeeklyScheduleForm
    list_display = ("teacher_column", "timezone", "slot_minutes", "window_summary", "updated_at")
    list_select_related = ("teacher__teacher_profile",)
    search_fields = ("teacher__email", "teacher__teacher_profile__display_name")
    ordering = ("teacher__email",)
    actions = ("generate_next_weeks",)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("windows")

    def get_readonly_fields(self, request, obj=None):
        return ("teacher", "updated_at") if obj is not None else ()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # an empty schedule (no windows) is how a teacher stops generating; deletes would skip the audit

    @admin.display(description="teacher", ordering="teacher__email")
    def teacher_column(self, schedule: WeeklySchedule) -> str:
        return teacher_name(schedule.teacher)

    @admin.display(description="windows")
    def window_summary(self, schedule) -> str:
        windows = [Window(w.weekday, w.start_minute, w.end_minute) for w in schedule.windows.all()]
        return ", ".join(window.label() for window in sorted(windows)) or "-"

    def save_model(self, request, obj, form, change):
        saved = schedule_replace(
            actor=request.user,
            teacher_id=obj.teacher_id,
            windows=form.cleaned_data["windows"],
            slot_minutes=form.cleaned_data["slot_minutes"],
            timezone=form.cleaned_data["timezone"],
        )
        obj.pk, obj.created_at, obj.updated_at = saved.pk, saved.created_at, saved.updated_at
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        """Nothing related to save: the windows were written by the service."""

    @admin.action(description=f"Generate slots for the next {GENERATE_WEEKS} weeks")
    def generate_next_weeks(self, request, queryset):
        for schedule in queryset.select_related("teacher__teacher_profile"):
            today = clock.now().astimezone(zoneinfo.ZoneInfo(schedule.timezone)).date()
            try:
                counts = schedule_generate(
                    actor=request.user,
                    teacher_id=schedule.teacher_id,
                    from_date=today,
                    to_date=today + timedelta(days=7 * GENERATE_WEEKS - 1),
                )
            except DomainError as exc:
                self.message_user(request, f"{teacher_name(schedule.teacher)}: {exc.message}", level=messages.ERROR)
                continue
            self.message_user(
                request,
                f"{teacher_name(schedule.teacher)}: created {counts.created}, "
                f"skipped_existing {counts.skipped_existing}, skipped_past {counts.skipped_past}.",
            )
