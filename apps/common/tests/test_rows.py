"""The values-row fast path renders every list serializer exactly as DRF does."""

from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework import serializers

from apps.admin_ops.models import AdminAction
from apps.admin_ops.serializers import AdminActionSerializer
from apps.admin_ops.tests.factories import AdminActionFactory
from apps.audit.models import AuditLog
from apps.audit.serializers import AuditLogSerializer
from apps.audit.tests.factories import AuditLogFactory
from apps.billing.models import LessonPackage, Payment, PaymentStatus, Plan
from apps.billing.serializers import PackageSerializer, PaymentSerializer, PlanSerializer
from apps.billing.tests.factories import PackageFactory, PaymentFactory, PlanFactory
from apps.booking.models import Booking
from apps.booking.selectors import teacher_student_list
from apps.booking.serializers import BookingSerializer, TeacherStudentSerializer
from apps.booking.tests.factories import future_slot, make_confirmed, make_hold
from apps.common import clock
from apps.common.rows import object_serializer_for, row_serializer_for
from apps.identity.models import User
from apps.identity.serializers import UserSerializer
from apps.lessons.models import Lesson
from apps.lessons.serializers import LessonSerializer
from apps.notifications.models import Notification
from apps.notifications.serializers import NotificationSerializer
from apps.notifications.tests.factories import NotificationFactory
from apps.scheduling.models import AvailabilitySlot
from apps.scheduling.serializers import SlotSerializer
from apps.teachers.models import TeacherProfile
from apps.teachers.serializers import TeacherProfileSerializer
from apps.teachers.tests.factories import TeacherProfileFactory

LIST_SERIALIZERS = [
    (SlotSerializer, AvailabilitySlot),
    (BookingSerializer, Booking),
    (LessonSerializer, Lesson),
    (PackageSerializer, LessonPackage),
    (PaymentSerializer, Payment),
    (TeacherProfileSerializer, TeacherProfile),
    (NotificationSerializer, Notification),
    (AuditLogSerializer, AuditLog),
    (AdminActionSerializer, AdminAction),
    (PlanSerializer, Plan),
    (UserSerializer, User),
]


@pytest.fixture
def school(db):
    make_hold()
    booking = make_confirmed()
    PaymentFactory(package=booking.package, amount=Decimal("49.9"), external_reference="ref-1")
    PaymentFactory(package=PackageFactory(), amount=Decimal("10.05"))
    PaymentFactory(status=PaymentStatus.REFUNDED, paid_at=booking.created_at)
    plan = PlanFactory(price=Decimal("99.5"))
    PlanFactory(is_active=False)
    PackageFactory(plan=plan, price=plan.price)
    TeacherProfileFactory(bio="Blues \u00e9 slide")
    NotificationFactory()
    AuditLogFactory(payload={"nested": {"list": [1, "two", None]}, "amount": "1.00"})
    AdminActionFactory(target_id=None, payload={})
    # The teacher's students: one with a lesson taught (last_lesson_at set), one with a hold only.
    earlier = make_confirmed(student=booking.student, slot=future_slot(hours=100, teacher=booking.teacher))
    Lesson.objects.filter(booking=earlier).update(
        status="completed", scheduled_start_at=clock.now() - timedelta(days=2, microseconds=-5)
    )
    make_hold(slot=future_slot(hours=120, teacher=booking.teacher))
    return booking


@pytest.mark.parametrize(("serializer_class", "model"), LIST_SERIALIZERS, ids=lambda v: getattr(v, "__name__", v))
def test_rows_match_drf_output(school, serializer_class, model):
    rows = row_serializer_for(serializer_class)
    assert rows is not None, "this list serializer lost its fast path"
    queryset = model.objects.order_by("pk")
    assert queryset.exists()
    assert rows(queryset) == serializer_class(queryset, many=True).data


@pytest.mark.parametrize(("serializer_class", "model"), LIST_SERIALIZERS, ids=lambda v: getattr(v, "__name__", v))
def test_objects_render_as_drf_renders_them(school, serializer_class, model):
    """The single-object fast path (what a write answers with) is DRF's output to the byte."""
    render = object_serializer_for(serializer_class)
    assert render is not None, "this serializer lost its single-object fast path"
    for instance in model.objects.order_by("pk"):
        assert render(instance) == serializer_class(instance).data


def test_a_dict_renders_as_drf_renders_it(school):
    from apps.admin_ops.selectors import kpi_overview
    from apps.admin_ops.serializers import KpiOverviewSerializer

    overview = kpi_overview()
    assert object_serializer_for(KpiOverviewSerializer)(overview) == KpiOverviewSerializer(overview).data


def test_teacher_students_rows_match_drf_output(school):
    teacher = school.teacher
    User.objects.filter(pk=school.student_id).update(full_name="Ada \u00e9")
    queryset = teacher_student_list(teacher=teacher)
    rows = row_serializer_for(TeacherStudentSerializer)
    assert rows is not None, "the teacher's students page lost its fast path"
    assert queryset.exists()
    assert rows(queryset) == TeacherStudentSerializer(queryset, many=True).data


def test_serializers_it_cannot_render_fall_back_to_drf():
    class WithMethod(serializers.Serializer):
        id = serializers.UUIDField()
        label = serializers.SerializerMethodField()

    class Custom(serializers.Serializer):
        id = serializers.UUIDField()

        def to_representation(self, instance):
            return {"id": "custom"}

    assert row_serializer_for(WithMethod) is None
    assert row_serializer_for(Custom) is None
    assert object_serializer_for(WithMethod) is None
    assert object_serializer_for(Custom) is None


class _LengthInMinutes(serializers.Field):
    """A value built from two columns, the way a nested object read from annotated columns is."""

    row_sources = ("start_at", "end_at")

    def __init__(self, **kwargs):
        super().__init__(source="*", read_only=True, **kwargs)

    @staticmethod
    def from_row(start_at, end_at):
        return int((end_at - start_at).total_seconds() // 60)

    def to_representation(self, slot):
        return self.from_row(slot.start_at, slot.end_at)


class _SlotWithLength(SlotSerializer):
    minutes = _LengthInMinutes()

    class Meta(SlotSerializer.Meta):
        fields = [*SlotSerializer.Meta.fields, "minutes"]
        read_only_fields = fields


def test_a_field_built_from_several_columns_keeps_the_fast_path(school):
    rows = row_serializer_for(_SlotWithLength)
    assert rows is not None
    queryset = AvailabilitySlot.objects.order_by("pk")
    rendered = rows(queryset)
    assert rendered == _SlotWithLength(queryset, many=True).data
    assert {row["minutes"] for row in rendered} == {60}
