from apps.booking.viewsets import BookingViewSet, LessonRepairViewSet
from apps.common.viewsets import ApiRouter

router = ApiRouter()
router.register("booking", BookingViewSet, basename="booking")
router.register("lessons", LessonRepairViewSet, basename="lesson-repair")
urlpatterns = router.urls
