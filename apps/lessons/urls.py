from apps.common.viewsets import ApiRouter
from apps.lessons.viewsets import CalendarFeedViewSet, CalendarIcsViewSet, LessonViewSet

router = ApiRouter()
router.register("lessons", LessonViewSet, basename="lesson")
router.register("calendar", CalendarFeedViewSet, basename="calendar-feed")
router.register("calendar", CalendarIcsViewSet, basename="calendar")
urlpatterns = router.urls
