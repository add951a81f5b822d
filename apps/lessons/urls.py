from django.urls import path

from apps.lessons import views

# Mounted under /api/v1/lessons/; literal paths before the <uuid:...> one.
urlpatterns = [
    path("lessons", views.LessonCreateView.as_view(), name="lessons-create"),
    path("lessons/my", views.LessonMyListView.as_view(), name="lessons-my"),
    path("lessons/<uuid:lesson_id>", views.LessonDetailView.as_view(), name="lessons-detail"),
]
