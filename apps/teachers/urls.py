from apps.common.viewsets import ApiRouter
from apps.teachers.viewsets import TeacherProfileViewSet

router = ApiRouter()
router.register("teachers/profiles", TeacherProfileViewSet, basename="teacher-profile")
urlpatterns = router.urls
