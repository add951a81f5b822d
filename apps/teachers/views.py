from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.pagination import PAGE_PARAMETERS, page_serializer, paginated_response
from apps.common.permissions import IsAdminOrTeacher
from apps.teachers.selectors import teacher_profile_get, teacher_profile_list
from apps.teachers.serializers import (
    TeacherProfileCreateSerializer,
    TeacherProfileSerializer,
    TeacherProfileUpdateSerializer,
)
from apps.teachers.services import teacher_profile_create, teacher_profile_update


class _ReadPublicWriteStaff(APIView):
    # GET is public (a token, when sent, still identifies the caller); writes need admin or teacher.

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [AllowAny()]
        return [IsAdminOrTeacher()]


class TeacherProfileListCreateView(_ReadPublicWriteStaff):
    @extend_schema(
        operation_id="teachers_profiles_list",
        parameters=[
            *PAGE_PARAMETERS,
        ],
        responses={200: page_serializer(TeacherProfileSerializer)},
        summary="Approved teacher profiles (all of them for an admin), by display name",
    )
    def get(self, request):
        queryset = teacher_profile_list(viewer=request.user)
        return paginated_response(
            request=request, view=self, queryset=queryset, serializer_class=TeacherProfileSerializer
        )

    @extend_schema(
        operation_id="teachers_profiles_create",
        request=TeacherProfileCreateSerializer,
        responses={201: TeacherProfileSerializer},
        summary="Create a teacher profile (admin, or the teacher themself)",
    )
    def post(self, request):
        serializer = TeacherProfileCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        profile = teacher_profile_create(actor=request.user, **serializer.validated_data)
        return Response(TeacherProfileSerializer(profile).data, status=status.HTTP_201_CREATED)


class TeacherProfileDetailView(_ReadPublicWriteStaff):
    http_method_names = ["get", "patch", "head", "options"]

    @extend_schema(
        operation_id="teachers_profiles_retrieve",
        responses={200: TeacherProfileSerializer, 404: OpenApiResponse(description="Unknown or not visible")},
        summary="One teacher profile (unapproved ones only for admins and their owner)",
    )
    def get(self, request, profile_id):
        profile = teacher_profile_get(profile_id=profile_id, viewer=request.user)
        return Response(TeacherProfileSerializer(profile).data)

    @extend_schema(
        operation_id="teachers_profiles_partial_update",
        request=TeacherProfileUpdateSerializer,
        responses={200: TeacherProfileSerializer},
        summary="Change a profile (admin or owner; only an admin changes is_approved)",
    )
    def patch(self, request, profile_id):
        serializer = TeacherProfileUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        profile = teacher_profile_update(actor=request.user, profile_id=profile_id, data=serializer.validated_data)
        return Response(TeacherProfileSerializer(profile).data)
