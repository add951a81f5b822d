from django.urls import path

from apps.teachers.views import TeacherProfileDetailView, TeacherProfileListCreateView

urlpatterns = [
    path("profiles", TeacherProfileListCreateView.as_view(), name="teacher-profile-list"),
    path("profiles/<uuid:profile_id>", TeacherProfileDetailView.as_view(), name="teacher-profile-detail"),
]
