"""Billing services called directly: rules the API cannot easily reach, and the DB constraints."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing import services
from apps.billing.errors import DuplicateExternalReference, PackageNotUsable, PaymentTransitionNotAllowed
from apps.billing.models import LessonPackage, PackageStatus, Payment, PaymentStatus
from apps.billing.tests.factories import PackageFactory, PaymentFactory
from apps.common import clock as clock_module
from apps.common.errors import InvalidInput
from apps.identity.tests.factories import AdminFactory

pytestmark = pytest.mark.django_db


def require_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL-only behaviour")


class TestPackageCounters:
    def test_reserve_consume_release_refund(self):
        package = PackageFactory(lessons_total=3, lessons_left=3)
        with transaction.atomic():
            locked = services.package_lock(package_id=package.id)
            services.package_reserve_lesson(package=locked)
            services.package_reserve_lesson(package=locked)
            assert (locked.lessons_left, locked.lessons_reserved) == (3, 2)
            services.package_consume_lesson(package=locked)
            assert (locked.lessons_left, locked.lessons_reserved) == (2, 1)
            services.package_release_lesson(package=locked)
            assert (locked.lessons_left, locked.lessons_reserved) == (2, 0)
            services.package_refund_lesson(package=locked)
        package.refresh_from_db()
        assert (package.lessons_left, package.lessons_reserved) == (3, 0)

    def test_package_lock_unknown_is_none(self):
        with transaction.atomic():
            assert services.package_lock(package_id=uuid.uuid4()) is None


class TestCounterConstraint:
    def test_reserved_above_left_refused(self):
        require_postgresql()
        package = PackageFactory(lessons_total=2, lessons_left=1, lessons_reserved=1)
        with pytest.raises(IntegrityError), transaction.atomic():
            LessonPackage.objects.filter(pk=package.pk).update(lessons_reserved=2)
        package.refresh_from_db()
        assert package.lessons_reserved == 1

    def test_reserve_past_left_through_service_refused(self):
        require_postgresql()
        package = PackageFactory(lessons_total=1, lessons_left=1, lessons_reserved=1)
        with pytest.raises(IntegrityError), transaction.atomic():
            services.package_reserve_lesson(package=services.package_lock(package_id=package.id))

    def test_left_above_total_refused(self):
        require_postgresql()
        package = PackageFactory(lessons_total=2, lessons_left=2)
        with pytest.raises(IntegrityError), transaction.atomic():
            services.package_refund_lesson(package=services.package_lock(package_id=package.id))

    def test_negative_reserved_refused(self):
        package = PackageFactory()
        with pytest.raises(IntegrityError), transaction.atomic():
            services.package_release_lesson(package=services.package_lock(package_id=package.id))

    def test_payment_amount_positive_constraint(self):
        package = PackageFactory()
        with pytest.raises(IntegrityError), transaction.atomic():
            Payment.objects.create(package=package, amount=Decimal("0.00"))


class TestPackageService:
    def test_create_rejects_out_of_range_total(self, student):
        with pytest.raises(InvalidInput):
            services.package_create(
                actor=None, student_id=student.id, lessons_total=0, expires_at=clock_module.now() + timedelta(days=1)
            )
        assert LessonPackage.objects.count() == 0

    def test_expire_in_batches(self, clock):
        packages = [PackageFactory(expires_at=clock_module.now() + timedelta(minutes=1)) for _ in range(5)]
        clock.advance(minutes=2)
        assert services.packages_expire_due(batch_size=2) == 5
        assert LessonPackage.objects.filter(status=PackageStatus.EXPIRED).count() == 5
        audits = AuditLog.objects.filter(action="billing.package.expire")
        assert sorted(a.entity_id for a in audits) == sorted(p.id for p in packages)
        assert {a.actor_id for a in audits} == {None}

    def test_expire_is_inclusive_of_the_instant(self, monkeypatch):
        package = PackageFactory()
        monkeypatch.setattr(clock_module, "now", lambda: package.expires_at)
        assert services.packages_expire_due() == 1

    def test_package_is_usable(self, clock):
        package = PackageFactory(expires_at=clock_module.now() + timedelta(minutes=1))
        assert services.package_is_usable(package=package)
        clock.advance(minutes=1)
        assert not services.package_is_usable(package=package)


class TestPaymentService:
    def test_integrity_error_race_is_409_and_leaves_no_rows(self, monkeypatch):
        """A duplicate reference slipping past the pre-check hits the unique constraint."""
        admin = AdminFactory()
        package = PackageFactory()
        services.payment_create(actor=admin, package_id=package.id, amount="10.00", external_reference="dup")
        assert AuditLog.objects.filter(action="billing.payment.create").count() == 1
        monkeypatch.setattr(services, "_external_reference_taken", lambda reference: False)
        with pytest.raises(DuplicateExternalReference):
            services.payment_create(actor=admin, package_id=package.id, amount="20.00", external_reference="dup")
        assert Payment.objects.count() == 1
        assert AuditLog.objects.filter(action="billing.payment.create").count() == 1
        assert OutboxEvent.objects.filter(event_type="billing.payment.created").count() == 1

    def test_failure_after_audit_rolls_everything_back(self, monkeypatch):
        """The audit row is written, then the outbox write fails: nothing survives."""
        admin = AdminFactory()
        package = PackageFactory()

        def broken_outbox(**kwargs):
            raise IntegrityError("outbox down")

        monkeypatch.setattr(services, "outbox_event_add", broken_outbox)
        with pytest.raises(IntegrityError):
            services.payment_create(actor=admin, package_id=package.id, amount="10.00", external_reference="r1")
        assert Payment.objects.count() == 0
        assert AuditLog.objects.count() == 0
        assert OutboxEvent.objects.count() == 0

    def test_failure_in_status_update_rolls_back(self, monkeypatch):
        payment = PaymentFactory()
        monkeypatch.setattr(services, "outbox_event_add", lambda **kwargs: 1 / 0)
        with pytest.raises(ZeroDivisionError):
            services.payment_set_status(actor=None, payment_id=payment.id, status="succeeded")
        payment.refresh_from_db()
        assert (payment.status, payment.paid_at) == ("pending", None)
        assert AuditLog.objects.count() == 0

    @pytest.mark.parametrize(
        "amount", ["0", "-5", "1.001", "NaN", "Infinity", "1000000.01", "x", None, Decimal("sNaN")]
    )
    def test_service_validates_amount_too(self, amount):
        admin = AdminFactory()
        package = PackageFactory()
        with pytest.raises(InvalidInput):
            services.payment_create(actor=admin, package_id=package.id, amount=amount)
        assert Payment.objects.count() == 0

    @pytest.mark.parametrize("currency", ["us", "USDX", "U2D", "€UR", None])
    def test_service_validates_currency_too(self, currency):
        admin = AdminFactory()
        package = PackageFactory()
        with pytest.raises(InvalidInput):
            services.payment_create(actor=admin, package_id=package.id, amount="1.00", currency=currency)

    def test_expired_package_refused(self):
        admin = AdminFactory()
        package = PackageFactory(status=PackageStatus.EXPIRED)
        with pytest.raises(PackageNotUsable):
            services.payment_create(actor=admin, package_id=package.id, amount="1.00")

    def test_refunded_is_final(self):
        payment = PaymentFactory(status=PaymentStatus.REFUNDED, paid_at=clock_module.now())
        for target in ("pending", "failed", "succeeded"):
            with pytest.raises(PaymentTransitionNotAllowed):
                services.payment_set_status(actor=None, payment_id=payment.id, status=target)

    def test_unknown_status_is_invalid_input(self):
        payment = PaymentFactory()
        with pytest.raises(InvalidInput):
            services.payment_set_status(actor=None, payment_id=payment.id, status="paid")


class TestPlanRules:
    """`plan_clean` guards the services themselves (the Django admin calls them): values no serializer sends."""

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("name", "bad\x00name"),
            ("name", None),
            ("lessons_total", True),
            ("lessons_total", "8"),
            ("validity_days", 7.0),
            ("price", float("nan")),
            ("price", Decimal("-0.01")),
            ("currency", "€UR"),
            ("is_active", "yes"),
        ],
    )
    def test_create_refuses_and_writes_nothing(self, field, value):
        data = {"name": "Starter", "lessons_total": 8, "price": Decimal("10.00"), "validity_days": 30}
        with pytest.raises(InvalidInput) as caught:
            services.plan_create(actor=None, **(data | {field: value}))
        assert set(caught.value.details) == {field}
        assert AuditLog.objects.count() == 0

    def test_every_bad_field_is_named_at_once(self):
        with pytest.raises(InvalidInput) as caught:
            services.plan_clean(data={"name": " ", "lessons_total": 0, "price": 0, "colour": "red"})
        assert set(caught.value.details) == {"name", "lessons_total", "price"}

    def test_update_without_an_actor_is_audited_as_the_system(self):
        plan = services.plan_create(actor=None, name="Starter", lessons_total=8, price="10", validity_days=30)
        services.plan_update(actor=None, plan_id=plan.pk, data={"validity_days": 45, "unknown": 1})
        plan.refresh_from_db()
        assert (plan.validity_days, plan.price) == (45, Decimal("10.00"))
        log = AuditLog.objects.get(action="billing.plan.update")
        assert (log.actor_id, log.payload) == (None, {"changes": {"validity_days": [30, 45]}})
