"""Lesson endpoints: parse input, call one service or selector, serialize."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.common.pagination import PAGE_PARAMETERS, page_serializer, paginated_response
from apps.common.permissions import IsAdmin
from apps.lessons.selectors import lesson_list_for
from apps.lessons.serializers import (
    LessonCreateSerializer,
    LessonSerializer,
    LessonUpdateSerializer,
)
from apps.lessons.services import lesson_create, lesson_update


class LessonCreateView(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(
        operation_id="lessons_create",
        request=LessonCreateSerializer,
        responses={201: LessonSerializer},
        summary="Create the missing lesson of a confirmed booking (admins)",
    )
    def post(self, request):
        serializer = LessonCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lesson = lesson_create(actor=request.user, **serializer.validated_data)
        return Response(LessonSerializer(lesson).data, status=status.HTTP_201_CREATED)


class LessonMyListView(APIView):
    @extend_schema(
        operation_id="lessons_my_list",
        parameters=PAGE_PARAMETERS,
        responses={200: page_serializer(LessonSerializer)},
        summary="Your lessons (all for an admin), newest scheduled first",
    )
    def get(self, request):
        return paginated_response(
            request=request, view=self, queryset=lesson_list_for(user=request.user), serializer_class=LessonSerializer
        )


class LessonDetailView(APIView):
    http_method_names = ["patch", "options"]

    @extend_schema(
        operation_id="lessons_partial_update",
        request=LessonUpdateSerializer,
        responses={200: LessonSerializer},
        summary="Complete / mark no-show, or write topic and notes (admin or the lesson's teacher)",
    )
    def patch(self, request, lesson_id):
        serializer = LessonUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        lesson = lesson_update(actor=request.user, lesson_id=lesson_id, data=serializer.validated_data)
        return Response(LessonSerializer(lesson).data)
