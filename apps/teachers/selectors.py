"""Reads on teacher profiles: who may see which profile."""

from django.db.models import QuerySet

from apps.common.queries import one_or_none
from apps.teachers.errors import TeacherProfileNotFound
from apps.teachers.models import TeacherProfile


def _is_admin(viewer) -> bool:
    return bool(viewer is not None and viewer.is_authenticated and getattr(viewer, "is_admin", False))


def teacher_profile_list(*, viewer=None) -> QuerySet[TeacherProfile]:
    """Profiles ordered by display name: approved ones for everybody, all of them for an admin."""
    queryset = TeacherProfile.objects.order_by("display_name", "id")
    if _is_admin(viewer):
        return queryset
    return queryset.filter(is_approved=True)


def teacher_profile_visible_to(*, profile: TeacherProfile, viewer=None) -> bool:
    """An approved profile is public; an unapproved one is seen by admins and its own teacher."""
    if profile.is_approved or _is_admin(viewer):
        return True
    return bool(viewer is not None and viewer.is_authenticated and profile.user_id == viewer.pk)


def teacher_profile_get(*, profile_id, viewer=None) -> TeacherProfile:
    """One profile the viewer may see; an unknown or hidden one is 404 (hidden ones do not leak)."""
    profile = one_or_none(TeacherProfile.objects.filter(pk=profile_id))
    if profile is None or not teacher_profile_visible_to(profile=profile, viewer=viewer):
        raise TeacherProfileNotFound()
    return profile


def teacher_profile_is_approved(*, user_id) -> bool:
    """Whether the user's teacher profile is approved (publicly listed); False without a profile."""
    return TeacherProfile.objects.filter(user_id=user_id, is_approved=True).exists()
