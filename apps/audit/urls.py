from apps.audit.viewsets import AuditLogViewSet, OutboxViewSet
from apps.common.viewsets import ApiRouter

router = ApiRouter()
router.register("audit/logs", AuditLogViewSet, basename="audit-log")
router.register("audit/outbox", OutboxViewSet, basename="audit-outbox")
urlpatterns = router.urls
