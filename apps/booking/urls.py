from apps.booking.viewsets import (
    BookingViewSet,
    LessonRepairViewSet,
    PackageCancelViewSet,
    SlotBookingViewSet,
    TeacherStudentViewSet,
)
from apps.common.viewsets import ApiRouter

router = ApiRouter()
router.register("booking/teacher/students", TeacherStudentViewSet, basename="teacher-student")
router.register("booking", BookingViewSet, basename="booking")
router.register("lessons", LessonRepairViewSet, basename="lesson-repair")
router.register("scheduling/slots", SlotBookingViewSet, basename="slot-booking")
router.register("billing/packages", PackageCancelViewSet, basename="package-cancel")
urlpatterns = router.urls
