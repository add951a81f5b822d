from apps.booking.viewsets import BookingViewSet, LessonRepairViewSet, TeacherStudentViewSet
from apps.common.viewsets import ApiRouter

router = ApiRouter()
router.register("booking/teacher/students", TeacherStudentViewSet, basename="teacher-student")
router.register("booking", BookingViewSet, basename="booking")
router.register("lessons", LessonRepairViewSet, basename="lesson-repair")
urlpatterns = router.urls
