"""The values-row fast path renders every list serializer exactly as DRF does."""

from decimal import Decimal

import pytest
from rest_framework import serializers

from apps.admin_ops.models import AdminAction
from apps.admin_ops.serializers import AdminActionSerializer
from apps.admin_ops.tests.factories import AdminActionFactory
from apps.audit.models import AuditLog
from apps.audit.serializers import AuditLogSerializer
from apps.audit.tests.factories import AuditLogFactory
from apps.billing.models import LessonPackage, Payment
from apps.billing.serializers import PackageSerializer, PaymentSerializer
from apps.billing.tests.factories import PackageFactory, PaymentFactory
from apps.booking.models import Booking
from apps.booking.serializers import BookingSerializer
from apps.booking.tests.factories import make_confirmed, make_hold
from apps.common.rows import row_serializer_for
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
    (UserSerializer, User),
]


@pytest.fixture
def school(db):
    make_hold()
    booking = make_confirmed()
    PaymentFactory(package=booking.package, amount=Decimal("49.9"), external_reference="ref-1")
    PaymentFactory(package=PackageFactory(), amount=Decimal("10.05"))
    TeacherProfileFactory(bio="Blues \u00e9 slide")
    NotificationFactory()
    AuditLogFactory(payload={"nested": {"list": [1, "two", None]}, "amount": "1.00"})
    AdminActionFactory(target_id=None, payload={})


@pytest.mark.parametrize(("serializer_class", "model"), LIST_SERIALIZERS, ids=lambda v: getattr(v, "__name__", v))
def test_rows_match_drf_output(school, serializer_class, model):
    rows = row_serializer_for(serializer_class)
    assert rows is not None, "this list serializer lost its fast path"
    queryset = model.objects.order_by("pk")
    assert queryset.exists()
    assert rows(queryset) == serializer_class(queryset, many=True).data


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
