from apps.common.viewsets import ApiRouter
from apps.identity.viewsets import AuthViewSet, UserViewSet

router = ApiRouter()
router.register("identity/auth", AuthViewSet, basename="identity-auth")
router.register("identity/users", UserViewSet, basename="identity-user")
urlpatterns = router.urls
