from apps.common.viewsets import ApiRouter
from apps.lessons.viewsets import LessonViewSet

router = ApiRouter()
router.register("lessons", LessonViewSet, basename="lesson")
urlpatterns = router.urls
