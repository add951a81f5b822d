from apps.billing.viewsets import PackageViewSet, PaymentViewSet
from apps.common.viewsets import ApiRouter

router = ApiRouter()
router.register("billing/packages", PackageViewSet, basename="package")
router.register("billing/payments", PaymentViewSet, basename="payment")
urlpatterns = router.urls
