from apps.admin_ops.viewsets import (
    AdminActionViewSet,
    AdminTeacherViewSet,
    AdminUserViewSet,
    OverviewViewSet,
    SalesViewSet,
)
from apps.common.viewsets import ApiRouter

router = ApiRouter()
router.register("admin/actions", AdminActionViewSet, basename="admin-action")
router.register("admin/users", AdminUserViewSet, basename="admin-user")
router.register("admin/teachers", AdminTeacherViewSet, basename="admin-teacher")
router.register("admin", OverviewViewSet, basename="admin-overview")
router.register("admin/kpi", SalesViewSet, basename="admin-kpi-sales")
urlpatterns = router.urls
