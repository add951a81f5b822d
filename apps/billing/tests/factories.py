from datetime import timedelta
from decimal import Decimal

import factory

from apps.billing.models import LessonPackage, PackageStatus, Payment, PaymentStatus, Plan
from apps.common import clock
from apps.identity.tests.factories import StudentFactory


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan

    name = factory.Sequence(lambda n: f"Plan {n}")
    lessons_total = 8
    price = Decimal("199.00")
    currency = "USD"
    validity_days = 60
    is_active = True


class PackageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LessonPackage

    student = factory.SubFactory(StudentFactory)
    lessons_total = 10
    lessons_left = 10
    lessons_reserved = 0
    expires_at = factory.LazyFunction(lambda: clock.now() + timedelta(days=30))
    status = PackageStatus.ACTIVE


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    package = factory.SubFactory(PackageFactory)
    amount = Decimal("49.90")
    currency = "USD"
    status = PaymentStatus.PENDING
    external_reference = None
    paid_at = None
    # The database wants refunded_at on refunded payments, and only on them.
    refunded_at = factory.LazyAttribute(lambda o: clock.now() if o.status == PaymentStatus.REFUNDED else None)
