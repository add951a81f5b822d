from apps.admin_ops.viewsets import AdminActionViewSet, OverviewViewSet, SalesViewSet, TeacherDisableViewSet
from apps.common.viewsets import ApiRouter

router = ApiRouter()
router.register("admin/actions", AdminActionViewSet, basename="admin-action")
router.register("admin/teachers", TeacherDisableViewSet, basename="admin-teacher-disable")
router.register("admin", OverviewViewSet, basename="admin-overview")
router.register("admin/kpi", SalesViewSet, basename="admin-kpi-sales")
urlpatterns = router.urls
