"""The Django admin site for packages and payments, driven like a staff member would."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.models import LessonPackage, PackageStatus, PaymentStatus, Plan
from apps.billing.tests.factories import PackageFactory, PaymentFactory, PlanFactory
from apps.common import clock as clock_module
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory

pytestmark = pytest.mark.django_db

PACKAGES = "/admin/billing/lessonpackage/"
PAYMENTS = "/admin/billing/payment/"
PLANS = "/admin/billing/plan/"


@pytest.fixture
def superuser():
    return AdminFactory()


@pytest.fixture
def admin_site(client, superuser):
    client.force_login(superuser)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


class TestPackageAdmin:
    def test_changelist_search_filters_and_hierarchy(self, admin_site):
        alice = StudentFactory(email="alice@example.com")
        mine = PackageFactory(student=alice)
        PackageFactory()
        response = admin_site.get(PACKAGES, {"q": "alice@"})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [mine]
        assert admin_site.get(PACKAGES, {"status__exact": "active"}).status_code == 200
        today = clock_module.now()
        assert admin_site.get(PACKAGES, {"created_at__year": today.year}).status_code == 200

    def test_change_form_is_read_only(self, admin_site):
        package = PackageFactory()
        response = admin_site.get(f"{PACKAGES}{package.id}/change/")
        assert response.status_code == 200
        html = response.content.decode()
        for field in ("lessons_left", "lessons_reserved", "lessons_total", "status", "expires_at"):
            assert f'name="{field}"' not in html
        # Posting the change form changes nothing.
        response = admin_site.post(f"{PACKAGES}{package.id}/change/", {"status": "expired", "lessons_left": 1})
        assert response.status_code == 302
        package.refresh_from_db()
        assert (package.status, package.lessons_left) == ("active", 10)
        assert AuditLog.objects.count() == 0

    def test_add_goes_through_service(self, admin_site, superuser):
        student = StudentFactory()
        expires = clock_module.now() + timedelta(days=20)
        response = admin_site.post(
            f"{PACKAGES}add/",
            {
                "student": str(student.id),
                "lessons_total": "6",
                "expires_at_0": expires.strftime("%Y-%m-%d"),
                "expires_at_1": expires.strftime("%H:%M:%S"),
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        package = LessonPackage.objects.get()
        assert (package.student_id, package.lessons_total, package.lessons_left, package.status) == (
            student.id,
            6,
            6,
            "active",
        )
        audit = AuditLog.objects.get()
        assert (audit.action, audit.actor_id, audit.entity_id) == ("billing.package.create", superuser.id, package.id)
        assert OutboxEvent.objects.get().event_type == "billing.package.created"

    def test_add_refuses_teacher_and_past_expiry(self, admin_site):
        teacher = TeacherFactory()
        past = clock_module.now() - timedelta(days=1)
        response = admin_site.post(
            f"{PACKAGES}add/",
            {
                "student": str(teacher.id),
                "lessons_total": "0",
                "expires_at_0": past.strftime("%Y-%m-%d"),
                "expires_at_1": past.strftime("%H:%M:%S"),
            },
        )
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert set(errors) == {"student", "lessons_total", "expires_at"}
        assert LessonPackage.objects.count() == 0
        assert AuditLog.objects.count() == 0

    def test_expire_due_packages_action(self, admin_site, superuser, clock):
        due = PackageFactory(expires_at=clock_module.now() + timedelta(hours=1))
        later = PackageFactory(expires_at=clock_module.now() + timedelta(days=9))
        clock.advance(hours=2)
        response = admin_site.post(
            PACKAGES, {"action": "expire_due_packages", "_selected_action": [str(later.id)]}, follow=True
        )
        assert response.status_code == 200
        assert "Expired 1 packages." in messages_of(response)
        due.refresh_from_db()
        later.refresh_from_db()
        assert (due.status, later.status) == (PackageStatus.EXPIRED, PackageStatus.ACTIVE)
        audit = AuditLog.objects.get()
        assert (audit.action, audit.actor_id) == ("billing.package.expire", superuser.id)

    def test_non_staff_cannot_enter(self, client):
        client.force_login(StudentFactory())
        response = client.get(PACKAGES)
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


class TestPaymentAdmin:
    def test_changelist_search(self, admin_site):
        mine = PaymentFactory(external_reference="pi_ABC123")
        PaymentFactory(external_reference="pi_other")
        response = admin_site.get(PAYMENTS, {"q": "ABC123"})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [mine]
        by_email = admin_site.get(PAYMENTS, {"q": mine.package.student.email})
        assert list(by_email.context["cl"].result_list) == [mine]
        assert admin_site.get(PAYMENTS, {"status__exact": "pending", "currency": "USD"}).status_code == 200

    def test_change_form_is_read_only_and_no_add(self, admin_site):
        payment = PaymentFactory()
        html = admin_site.get(f"{PAYMENTS}{payment.id}/change/").content.decode()
        for field in ("amount", "status", "currency", "paid_at"):
            assert f'name="{field}"' not in html
        assert admin_site.get(f"{PAYMENTS}add/").status_code == 403

    def test_mark_succeeded_then_refunded(self, admin_site, superuser):
        payments = [PaymentFactory(), PaymentFactory()]
        ids = [str(p.id) for p in payments]
        response = admin_site.post(PAYMENTS, {"action": "mark_succeeded", "_selected_action": ids}, follow=True)
        assert "2 payment(s) marked succeeded." in messages_of(response)
        for payment in payments:
            payment.refresh_from_db()
            assert payment.status == PaymentStatus.SUCCEEDED
            assert payment.paid_at is not None
        audits = AuditLog.objects.filter(action="billing.payment.status.update")
        assert audits.count() == 2
        assert {a.actor_id for a in audits} == {superuser.id}
        assert OutboxEvent.objects.filter(event_type="billing.payment.status.updated").count() == 2

        response = admin_site.post(PAYMENTS, {"action": "mark_refunded", "_selected_action": ids[:1]}, follow=True)
        assert "1 payment(s) marked refunded." in messages_of(response)
        payments[0].refresh_from_db()
        assert payments[0].status == PaymentStatus.REFUNDED

    def test_disallowed_move_shows_error_and_changes_nothing(self, admin_site):
        refunded = PaymentFactory(status=PaymentStatus.REFUNDED, paid_at=clock_module.now())
        pending = PaymentFactory()
        response = admin_site.post(
            PAYMENTS, {"action": "mark_failed", "_selected_action": [str(refunded.id), str(pending.id)]}, follow=True
        )
        shown = messages_of(response)
        assert any(str(refunded.id) in m and "refunded to failed" in m for m in shown)
        assert "1 payment(s) marked failed." in shown
        refunded.refresh_from_db()
        pending.refresh_from_db()
        assert (refunded.status, pending.status) == ("refunded", "failed")
        assert AuditLog.objects.count() == 1

    def test_mark_refunded_on_pending_refused(self, admin_site):
        pending = PaymentFactory()
        response = admin_site.post(
            PAYMENTS, {"action": "mark_refunded", "_selected_action": [str(pending.id)]}, follow=True
        )
        assert any("pending to refunded" in m for m in messages_of(response))
        pending.refresh_from_db()
        assert pending.status == "pending"
        assert AuditLog.objects.count() == 0


def plan_form(**overrides) -> dict:
    data = {
        "name": "Starter 8",
        "lessons_total": "8",
        "price": "199.00",
        "currency": "usd",
        "validity_days": "60",
        "is_active": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


class TestPlanAdmin:
    def test_add_goes_through_the_service(self, admin_site, superuser):
        assert admin_site.get(f"{PLANS}add/").status_code == 200
        response = admin_site.post(f"{PLANS}add/", plan_form())
        assert response.status_code == 302, response.content.decode()[:2000]
        plan = Plan.objects.get()
        assert (plan.name, plan.lessons_total, plan.price, plan.currency, plan.validity_days, plan.is_active) == (
            "Starter 8",
            8,
            Decimal("199.00"),
            "USD",
            60,
            True,
        )
        audit = AuditLog.objects.get()
        assert (audit.action, audit.actor_id, audit.entity_id) == ("billing.plan.create", superuser.pk, plan.pk)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("lessons_total", "0"),
            ("lessons_total", "1001"),
            ("price", "0"),
            ("price", "1000000.01"),
            ("currency", "U1D"),
            ("validity_days", "0"),
            ("validity_days", "3651"),
            ("name", "   "),
        ],
    )
    def test_add_refuses_what_the_api_refuses(self, admin_site, field, value):
        response = admin_site.post(f"{PLANS}add/", plan_form(**{field: value}))
        assert response.status_code == 200
        assert field in response.context["adminform"].form.errors
        assert (Plan.objects.count(), AuditLog.objects.count()) == (0, 0)

    def test_change_goes_through_the_service_with_only_the_changes(self, admin_site, superuser):
        plan = PlanFactory(name="Starter", price=Decimal("100.00"))
        url = f"{PLANS}{plan.pk}/change/"
        assert admin_site.get(url).status_code == 200
        response = admin_site.post(url, plan_form(name="Starter", price="120.00", is_active=None))
        assert response.status_code == 302, response.content.decode()[:2000]
        plan.refresh_from_db()
        assert (plan.price, plan.is_active) == (Decimal("120.00"), False)
        audit = AuditLog.objects.get()
        assert (audit.action, audit.actor_id) == ("billing.plan.update", superuser.pk)
        assert audit.payload == {"changes": {"price": ["100.00", "120.00"], "is_active": [True, False]}}

    def test_change_refused_changes_nothing(self, admin_site):
        plan = PlanFactory()
        response = admin_site.post(f"{PLANS}{plan.pk}/change/", plan_form(price="-1"))
        assert response.status_code == 200
        assert "price" in response.context["adminform"].form.errors
        assert Plan.objects.get(pk=plan.pk).price == plan.price
        assert AuditLog.objects.count() == 0

    def test_deactivate_and_activate_actions(self, admin_site, superuser):
        plans = [PlanFactory(), PlanFactory()]
        ids = [str(p.pk) for p in plans]
        response = admin_site.post(PLANS, {"action": "deactivate", "_selected_action": ids}, follow=True)
        assert "2 plan(s) deactivated." in messages_of(response)
        assert not Plan.objects.filter(is_active=True).exists()
        admin_site.post(PLANS, {"action": "activate", "_selected_action": ids[:1]}, follow=True)
        assert list(Plan.objects.filter(is_active=True).values_list("pk", flat=True)) == [plans[0].pk]
        assert AuditLog.objects.filter(action="billing.plan.update", actor=superuser).count() == 3

    def test_changelist_and_no_delete(self, admin_site):
        plan = PlanFactory(name="Blues intensive")
        response = admin_site.get(PLANS, {"q": "blues"})
        assert list(response.context["cl"].result_list) == [plan]
        assert admin_site.get(PLANS, {"is_active__exact": "1"}).status_code == 200
        assert admin_site.get(f"{PLANS}{plan.pk}/delete/").status_code == 403
