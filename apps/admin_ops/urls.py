from apps.admin_ops.viewsets import AdminActionViewSet, OverviewViewSet
from apps.common.viewsets import ApiRouter

router = ApiRouter()
router.register("admin/actions", AdminActionViewSet, basename="admin-action")
router.register("admin", OverviewViewSet, basename="admin-overview")
urlpatterns = router.urls
