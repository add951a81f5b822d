from apps.common.viewsets import ApiRouter
from apps.scheduling.viewsets import SlotViewSet

router = ApiRouter()
router.register("scheduling/slots", SlotViewSet, basename="slot")
urlpatterns = router.urls
