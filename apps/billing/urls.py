from apps.billing.viewsets import PackageViewSet, PaymentViewSet, PlanViewSet
from apps.common.viewsets import ApiRouter

router = ApiRouter()
router.register("billing/packages", PackageViewSet, basename="package")
router.register("billing/payments", PaymentViewSet, basename="payment")
router.register("billing/plans", PlanViewSet, basename="plan")
urlpatterns = router.urls
