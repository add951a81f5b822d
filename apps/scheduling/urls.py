from apps.common.viewsets import ApiRouter
from apps.scheduling.viewsets import SlotViewSet, TeacherScheduleViewSet

router = ApiRouter()
router.register("scheduling/slots", SlotViewSet, basename="slot")
router.register("scheduling/teachers", TeacherScheduleViewSet, basename="teacher-schedule")
urlpatterns = router.urls
