"""Django admin for lessons: status moves only through the lesson services."""

from django.contrib import admin

from apps.common.admin import NoAddDeleteAdmin, person, teacher_name
from apps.lessons.models import Lesson
from apps.lessons.serializers import HOMEWORK_MAX_LENGTH
from apps.lessons.services import lesson_update


@admin.register(Lesson)
class LessonAdmin(NoAddDeleteAdmin):
    list_display = ("student_email", "teacher_email", "status", "scheduled_start_at", "topic")
    list_filter = ("status",)
    search_fields = ("student__email", "teacher__email", "teacher__teacher_profile__display_name", "topic", "=id")
    date_hierarchy = "scheduled_start_at"
    list_select_related = ("student", "teacher__teacher_profile")
    ordering = ("-scheduled_start_at", "-id")
    fields = (
        "id",
        "booking",
        "student",
        "teacher",
        "scheduled_start_at",
        "scheduled_end_at",
        "status",
        "topic",
        "notes",
        "homework",
        "created_at",
        "updated_at",
    )
    readonly_fields = (
        "id",
        "booking",
        "student",
        "teacher",
        "scheduled_start_at",
        "scheduled_end_at",
        "status",
        "created_at",
        "updated_at",
    )

    @admin.display(description="student", ordering="student__email")
    def student_email(self, obj: Lesson) -> str:
        return person(obj.student)

    @admin.display(description="teacher", ordering="teacher__email")
    def teacher_email(self, obj: Lesson) -> str:
        return teacher_name(obj.teacher)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "homework":
            kwargs["max_length"] = HOMEWORK_MAX_LENGTH  # the API's limit, on the form too
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # Topic, notes and homework go through the service so the change is audited.
        lesson_update(
            actor=request.user,
            lesson_id=obj.pk,
            data={
                field: form.cleaned_data[field]
                for field in ("topic", "notes", "homework")
                if field in form.changed_data
            },
        )
