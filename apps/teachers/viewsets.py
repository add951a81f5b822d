"""Teacher profile endpoints (SPEC §3 Teachers): reads are public, writes are admin or the teacher."""

from rest_framework.permissions import AllowAny

from apps.common.permissions import IsAdminOrTeacher
from apps.common.viewsets import ApiViewSet, endpoint
from apps.teachers.selectors import teacher_profile_get, teacher_profile_list
from apps.teachers.serializers import (
    TeacherProfileCreateSerializer,
    TeacherProfileSerializer,
    TeacherProfileUpdateSerializer,
)
from apps.teachers.services import teacher_profile_create, teacher_profile_update


class TeacherProfileViewSet(ApiViewSet):
    # Reads are public (a token, when sent, still identifies the caller); writes need admin or teacher.
    serializer_class = TeacherProfileSerializer
    permission_classes = [IsAdminOrTeacher]
    lookup_url_kwarg = "profile_id"

    @endpoint(page=True, permissions=[AllowAny])
    def list(self, request):
        """Approved teacher profiles (all of them for an admin), by display name."""
        return teacher_profile_list(viewer=request.user)

    @endpoint(body=TeacherProfileCreateSerializer, status=201)
    def create(self, request, body):
        """Create a teacher profile (admin, or the teacher themself)."""
        return teacher_profile_create(actor=request.user, **body)

    @endpoint(permissions=[AllowAny])
    def retrieve(self, request, profile_id):
        """One teacher profile (unapproved ones only for admins and their owner)."""
        return teacher_profile_get(profile_id=profile_id, viewer=request.user)

    @endpoint(body=TeacherProfileUpdateSerializer)
    def partial_update(self, request, profile_id, body):
        """Change a profile (admin or owner; only an admin changes is_approved)."""
        return teacher_profile_update(actor=request.user, profile_id=profile_id, data=body)
