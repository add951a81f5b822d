"""Lesson endpoints (SPEC §3 Lessons, relative to /api/v1). `POST /lessons` is booking's (it locks the booking)."""

from apps.common.viewsets import ApiViewSet, endpoint
from apps.lessons.selectors import lesson_list_for
from apps.lessons.serializers import LessonListQuerySerializer, LessonSerializer, LessonUpdateSerializer
from apps.lessons.services import lesson_update


class LessonViewSet(ApiViewSet):
    serializer_class = LessonSerializer
    lookup_url_kwarg = "lesson_id"

    @endpoint(query=LessonListQuerySerializer, page=True)
    def my(self, request, query):
        """Your lessons (all for an admin), newest scheduled first; filter by start time and status."""
        return lesson_list_for(
            user=request.user, start_from=query.get("from"), start_to=query.get("to"), status=query.get("status")
        )

    @endpoint(body=LessonUpdateSerializer)
    def partial_update(self, request, lesson_id, body):
        """Complete / mark no-show, or write topic, notes and homework (admin or the lesson's teacher)."""
        return lesson_update(actor=request.user, lesson_id=lesson_id, data=body)
