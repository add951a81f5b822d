"""Lesson endpoints (SPEC §3 Lessons, relative to /api/v1). `POST /lessons` is booking's (it locks the booking)."""

from apps.common.pagination import cached_page_data
from apps.common.viewsets import ApiViewSet, endpoint
from apps.lessons.selectors import lesson_list_for, lesson_list_scope
from apps.lessons.serializers import LessonSerializer, LessonUpdateSerializer
from apps.lessons.services import lesson_update


class LessonViewSet(ApiViewSet):
    serializer_class = LessonSerializer
    lookup_url_kwarg = "lesson_id"

    @endpoint(page=True)
    def my(self, request):
        """Your lessons (all for an admin), newest scheduled first."""
        scope, who = lesson_list_scope(user=request.user)
        return cached_page_data(
            request=request,
            scope=scope,
            key=who,
            rows=lambda: lesson_list_for(user=request.user),
            serializer_class=LessonSerializer,
        )

    @endpoint(body=LessonUpdateSerializer)
    def partial_update(self, request, lesson_id, body):
        """Complete / mark no-show, or write topic and notes (admin or the lesson's teacher)."""
        return lesson_update(actor=request.user, lesson_id=lesson_id, data=body)
