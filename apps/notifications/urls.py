from apps.common.viewsets import ApiRouter
from apps.notifications.viewsets import NotificationViewSet

router = ApiRouter()
router.register("notifications", NotificationViewSet, basename="notification")
urlpatterns = router.urls
