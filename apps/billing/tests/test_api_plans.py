"""Plans over HTTP (SPEC §8.4): the catalog, its admin writes, and packages sold from a plan."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.models import LessonPackage, Payment, Plan
from apps.billing.tests.factories import PackageFactory, PaymentFactory, PlanFactory
from apps.common import clock as clock_module

pytestmark = pytest.mark.django_db

PLANS = "/api/v1/billing/plans"
PACKAGES = "/api/v1/billing/packages"
PLAN_FIELDS = {"id", "name", "lessons_total", "price", "currency", "validity_days", "is_active"}


def plan_url(plan_id) -> str:
    return f"{PLANS}/{plan_id}"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


def plan_state() -> list[tuple]:
    return list(Plan.objects.order_by("pk").values_list(*sorted(PLAN_FIELDS - {"id"}), "pk", "updated_at"))


def row_counts() -> tuple[int, int, int, int]:
    return Plan.objects.count(), LessonPackage.objects.count(), AuditLog.objects.count(), OutboxEvent.objects.count()


def plan_data(**overrides) -> dict:
    data = {"name": "Starter 8", "lessons_total": 8, "price": "199.00", "validity_days": 60}
    data.update(overrides)
    return data


# --- GET /plans ---


class TestPlanList:
    def test_public_sees_active_plans_cheapest_first(self, api_client):
        dear = PlanFactory(name="Pro 20", price=Decimal("450.00"), lessons_total=20)
        cheap_b = PlanFactory(name="B trial", price=Decimal("25.00"), lessons_total=1)
        cheap_a = PlanFactory(name="A trial", price=Decimal("25.00"), lessons_total=1)
        PlanFactory(name="Old", price=Decimal("1.00"), is_active=False)

        response = api_client.get(PLANS)

        assert response.status_code == 200
        body = response.json()
        assert (body["total"], body["limit"], body["offset"]) == (3, 20, 0)
        assert [item["id"] for item in body["items"]] == [str(cheap_a.pk), str(cheap_b.pk), str(dear.pk)]
        assert body["items"][2] == {
            "id": str(dear.pk),
            "name": "Pro 20",
            "lessons_total": 20,
            "price": "450.00",
            "currency": "USD",
            "validity_days": 60,
            "is_active": True,
        }

    @pytest.mark.parametrize("who", ["student_client", "teacher_client"])
    def test_students_and_teachers_see_active_only(self, request, who):
        active = PlanFactory()
        PlanFactory(is_active=False)
        body = request.getfixturevalue(who).get(PLANS).json()
        assert [item["id"] for item in body["items"]] == [str(active.pk)]

    def test_admin_sees_every_plan(self, admin_client):
        active, inactive = PlanFactory(price=Decimal("10.00")), PlanFactory(price=Decimal("20.00"), is_active=False)
        body = admin_client.get(PLANS).json()
        assert [(item["id"], item["is_active"]) for item in body["items"]] == [
            (str(active.pk), True),
            (str(inactive.pk), False),
        ]

    def test_pagination_and_bad_bounds(self, api_client):
        plans = [PlanFactory(price=Decimal(price)) for price in ("1.00", "2.00", "3.00", "4.00")]
        body = api_client.get(PLANS, {"limit": 2, "offset": 1}).json()
        assert (body["total"], [item["id"] for item in body["items"]]) == (4, [str(p.pk) for p in plans[1:3]])
        assert_error(api_client.get(PLANS, {"limit": 101}), 400, "validation_error")

    def test_bad_token_is_401_even_on_a_public_list(self, api_client):
        api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
        assert api_client.get(PLANS).status_code == 401

    @pytest.mark.parametrize("count", [2, 20])
    def test_query_count_is_constant(self, api_client, count, django_assert_max_num_queries):
        PlanFactory.create_batch(count)
        # page SELECT (+ COUNT when the page is full); anonymous: no user query
        with django_assert_max_num_queries(2):
            response = api_client.get(PLANS, {"limit": 100})
        assert response.json()["total"] == count


# --- POST /plans ---


class TestPlanCreate:
    def test_admin_creates_a_plan(self, admin_client, admin_user):
        response = admin_client.post(PLANS, plan_data(currency="eur"))

        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == PLAN_FIELDS
        plan = Plan.objects.get(pk=body["id"])
        assert body == {
            "id": str(plan.pk),
            "name": "Starter 8",
            "lessons_total": 8,
            "price": "199.00",
            "currency": "EUR",
            "validity_days": 60,
            "is_active": True,
        }
        assert (plan.price, plan.currency, plan.is_active) == (Decimal("199.00"), "EUR", True)
        audit = AuditLog.objects.get()
        assert (audit.action, audit.entity_type, audit.entity_id, audit.actor_id) == (
            "billing.plan.create",
            "plan",
            plan.pk,
            admin_user.pk,
        )
        assert audit.payload == {
            "plan_id": str(plan.pk),
            "name": "Starter 8",
            "lessons_total": 8,
            "price": "199.00",
            "currency": "EUR",
            "validity_days": 60,
            "is_active": True,
        }
        assert OutboxEvent.objects.count() == 0  # no event is named for plans

    def test_defaults_and_inactive(self, admin_client):
        body = admin_client.post(PLANS, plan_data(is_active=False, price=10, name="  Trial  ")).json()
        assert (body["currency"], body["is_active"], body["price"], body["name"]) == ("USD", False, "10.00", "Trial")

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("name", ""),
            ("name", "   "),
            ("name", "x" * 129),
            ("name", None),
            ("name", 12),
            ("lessons_total", 0),
            ("lessons_total", -1),
            ("lessons_total", 1001),
            ("lessons_total", 1.5),
            ("lessons_total", "many"),
            ("price", "0"),
            ("price", "0.00"),
            ("price", "-5"),
            ("price", "19.999"),
            ("price", "NaN"),
            ("price", "1000000.01"),
            ("price", None),
            ("price", True),
            ("currency", "US"),
            ("currency", "USDD"),
            ("currency", "U1D"),
            ("currency", None),
            ("validity_days", 0),
            ("validity_days", 3651),
            ("validity_days", "soon"),
            ("is_active", "maybe"),
            ("is_active", None),
        ],
    )
    def test_invalid_values_are_400_and_change_nothing(self, admin_client, field, value):
        error = assert_error(
            admin_client.post(PLANS, plan_data(**{field: value}), format="json"), 400, "validation_error"
        )
        assert field in error["details"]
        assert row_counts() == (0, 0, 0, 0)

    @pytest.mark.parametrize("missing", ["name", "lessons_total", "price", "validity_days"])
    def test_missing_fields_are_400(self, admin_client, missing):
        data = plan_data()
        del data[missing]
        error = assert_error(admin_client.post(PLANS, data), 400, "validation_error")
        assert missing in error["details"]
        assert row_counts() == (0, 0, 0, 0)

    def test_bounds_are_accepted(self, admin_client):
        response = admin_client.post(
            PLANS, plan_data(name="x" * 128, lessons_total=1000, price="1000000.00", validity_days=3650)
        )
        assert response.status_code == 201, response.content
        response = admin_client.post(PLANS, plan_data(lessons_total=1, price="0.01", validity_days=1))
        assert response.status_code == 201, response.content

    @pytest.mark.parametrize("who", ["student_client", "teacher_client"])
    def test_non_admin_forbidden(self, request, who):
        assert_error(request.getfixturevalue(who).post(PLANS, plan_data()), 403, "forbidden")
        assert row_counts() == (0, 0, 0, 0)

    def test_anonymous_401(self, api_client):
        assert_error(api_client.post(PLANS, plan_data()), 401, "not_authenticated")
        assert row_counts() == (0, 0, 0, 0)

    def test_read_only_and_unknown_fields_are_ignored(self, admin_client):
        given_id = str(uuid.uuid4())
        body = admin_client.post(PLANS, plan_data(id=given_id, colour="blue")).json()
        assert body["id"] != given_id


# --- PATCH /plans/{id} ---


class TestPlanUpdate:
    def test_admin_changes_some_fields(self, admin_client, admin_user):
        plan = PlanFactory(name="Starter", price=Decimal("100.00"), validity_days=30)
        response = admin_client.patch(plan_url(plan.pk), {"price": "120.5", "is_active": False, "currency": "gbp"})

        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["price"], body["is_active"], body["currency"], body["name"], body["validity_days"]) == (
            "120.50",
            False,
            "GBP",
            "Starter",
            30,
        )
        plan.refresh_from_db()
        assert (plan.price, plan.is_active, plan.currency) == (Decimal("120.50"), False, "GBP")
        audit = AuditLog.objects.get()
        assert (audit.action, audit.entity_type, audit.entity_id, audit.actor_id) == (
            "billing.plan.update",
            "plan",
            plan.pk,
            admin_user.pk,
        )
        assert audit.payload == {
            "changes": {"price": ["100.00", "120.50"], "is_active": [True, False], "currency": ["USD", "GBP"]}
        }

    def test_no_change_writes_nothing(self, admin_client):
        plan = PlanFactory(price=Decimal("100.00"))
        before = plan_state()
        for data in ({}, {"price": "100", "currency": "usd"}, {"name": plan.name}):
            response = admin_client.patch(plan_url(plan.pk), data, format="json")
            assert response.status_code == 200
            assert response.json()["id"] == str(plan.pk)
        assert plan_state() == before
        assert AuditLog.objects.count() == 0

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("name", ""),
            ("name", None),
            ("lessons_total", 0),
            ("price", "0"),
            ("price", "1.001"),
            ("currency", "EURO"),
            ("validity_days", 0),
            ("is_active", None),
        ],
    )
    def test_invalid_values_are_400_and_change_nothing(self, admin_client, field, value):
        plan = PlanFactory()
        before = plan_state()
        error = assert_error(
            admin_client.patch(plan_url(plan.pk), {field: value, "name": "Renamed"} | {field: value}, format="json"),
            400,
            "validation_error",
        )
        assert field in error["details"]
        assert plan_state() == before
        assert AuditLog.objects.count() == 0

    def test_unknown_plan_404(self, admin_client):
        assert_error(admin_client.patch(plan_url(uuid.uuid4()), {"price": "5.00"}), 404, "not_found")
        assert AuditLog.objects.count() == 0

    @pytest.mark.parametrize("who", ["student_client", "teacher_client"])
    def test_non_admin_forbidden(self, request, who):
        plan = PlanFactory()
        before = plan_state()
        assert_error(request.getfixturevalue(who).patch(plan_url(plan.pk), {"price": "1.00"}), 403, "forbidden")
        assert plan_state() == before

    def test_packages_already_sold_keep_their_terms(self, admin_client, student):
        plan = PlanFactory(lessons_total=8, price=Decimal("199.00"), validity_days=60)
        sold = admin_client.post(PACKAGES, {"student_id": str(student.pk), "plan_id": str(plan.pk)}).json()
        admin_client.patch(plan_url(plan.pk), {"lessons_total": 4, "price": "99.00", "validity_days": 10})
        package = LessonPackage.objects.get(pk=sold["id"])
        assert (package.lessons_total, package.lessons_left, package.price) == (8, 8, Decimal("199.00"))
        assert package.expires_at.isoformat().replace("+00:00", "Z") == sold["expires_at"].replace(".000000", "")

    def test_get_one_plan_is_not_a_route(self, admin_client):
        plan = PlanFactory()
        assert admin_client.get(plan_url(plan.pk)).status_code == 405


# --- POST /packages {student_id, plan_id} ---


class TestPackageFromPlan:
    def test_lessons_expiry_and_price_come_from_the_plan(self, admin_client, admin_user, student, clock):
        plan = PlanFactory(lessons_total=12, price=Decimal("300.00"), validity_days=90)
        before = clock_module.now()
        response = admin_client.post(PACKAGES, {"student_id": str(student.pk), "plan_id": str(plan.pk)})
        after = clock_module.now()

        assert response.status_code == 201, response.content
        body = response.json()
        package = LessonPackage.objects.get(pk=body["id"])
        assert (body["plan_id"], body["price"], body["lessons_total"], body["lessons_left"]) == (
            str(plan.pk),
            "300.00",
            12,
            12,
        )
        assert (package.plan_id, package.price, package.lessons_reserved, package.status) == (
            plan.pk,
            Decimal("300.00"),
            0,
            "active",
        )
        assert before + timedelta(days=90) <= package.expires_at <= after + timedelta(days=90)
        payload = {
            "package_id": str(package.pk),
            "student_id": str(student.pk),
            "lessons_total": 12,
            "lessons_left": 12,
            "expires_at": package.expires_at.isoformat(),
            "status": "active",
            "plan_id": str(plan.pk),
            "price": "300.00",
        }
        audit = AuditLog.objects.get()
        assert (audit.action, audit.actor_id, audit.payload) == ("billing.package.create", admin_user.pk, payload)
        event = OutboxEvent.objects.get()
        assert (event.event_type, event.payload) == ("billing.package.created", payload)

    def test_a_package_by_hand_has_no_plan_and_no_price(self, admin_client, student):
        expires_at = (clock_module.now() + timedelta(days=10)).isoformat()
        body = admin_client.post(
            PACKAGES, {"student_id": str(student.pk), "lessons_total": 3, "expires_at": expires_at}
        ).json()
        assert (body["plan_id"], body["price"]) == (None, None)
        assert set(AuditLog.objects.get().payload) == {
            "package_id",
            "student_id",
            "lessons_total",
            "lessons_left",
            "expires_at",
            "status",
        }

    def test_inactive_plan_is_422(self, admin_client, student):
        plan = PlanFactory(is_active=False)
        error = assert_error(
            admin_client.post(PACKAGES, {"student_id": str(student.pk), "plan_id": str(plan.pk)}),
            422,
            "business_rule_violation",
        )
        assert error["message"] == "This plan is not active."
        assert row_counts() == (1, 0, 0, 0)

    def test_unknown_plan_is_404(self, admin_client, student):
        response = admin_client.post(PACKAGES, {"student_id": str(student.pk), "plan_id": str(uuid.uuid4())})
        assert_error(response, 404, "not_found")
        assert row_counts() == (0, 0, 0, 0)

    def test_not_a_student_is_422(self, admin_client, teacher):
        plan = PlanFactory()
        response = admin_client.post(PACKAGES, {"student_id": str(teacher.pk), "plan_id": str(plan.pk)})
        assert_error(response, 422, "business_rule_violation")
        assert row_counts() == (1, 0, 0, 0)

    @pytest.mark.parametrize(
        "extra",
        [
            {"lessons_total": 5},
            {"expires_at": "2099-01-01T00:00:00Z"},
            {"lessons_total": 5, "expires_at": "2099-01-01T00:00:00Z"},
        ],
    )
    def test_plan_and_hand_made_terms_together_are_400(self, admin_client, student, extra):
        plan = PlanFactory()
        error = assert_error(
            admin_client.post(PACKAGES, {"student_id": str(student.pk), "plan_id": str(plan.pk), **extra}),
            400,
            "validation_error",
        )
        assert "plan_id" in error["details"]
        assert row_counts() == (1, 0, 0, 0)

    def test_neither_form_is_400_naming_the_missing_fields(self, admin_client, student):
        error = assert_error(admin_client.post(PACKAGES, {"student_id": str(student.pk)}), 400, "validation_error")
        assert set(error["details"]) == {"lessons_total", "expires_at"}

    @pytest.mark.parametrize("plan_id", ["not-a-uuid", None, 5])
    def test_malformed_plan_id_is_400(self, admin_client, student, plan_id):
        response = admin_client.post(PACKAGES, {"student_id": str(student.pk), "plan_id": plan_id}, format="json")
        assert "plan_id" in assert_error(response, 400, "validation_error")["details"]

    @pytest.mark.parametrize("who", ["student_client", "teacher_client"])
    def test_non_admin_forbidden(self, request, who, student):
        plan = PlanFactory()
        response = request.getfixturevalue(who).post(PACKAGES, {"student_id": str(student.pk), "plan_id": str(plan.pk)})
        assert_error(response, 403, "forbidden")
        assert row_counts() == (1, 0, 0, 0)

    def test_package_lists_show_plan_and_price(self, admin_client, student):
        plan = PlanFactory(price=Decimal("80.00"))
        admin_client.post(PACKAGES, {"student_id": str(student.pk), "plan_id": str(plan.pk)})
        PackageFactory(student=student)
        items = admin_client.get(f"{PACKAGES}/students/{student.pk}").json()["items"]
        assert sorted((item["plan_id"], item["price"]) for item in items if item["plan_id"]) == [
            (str(plan.pk), "80.00")
        ]
        assert sum(item["plan_id"] is None and item["price"] is None for item in items) == 1


# --- what the database itself refuses ---


class TestDatabaseGuards:
    @pytest.mark.parametrize(
        "fields", [{"lessons_total": 0}, {"price": Decimal("0.00")}, {"price": Decimal("-1.00")}, {"validity_days": 0}]
    )
    def test_plan_checks(self, fields):
        with pytest.raises(IntegrityError), transaction.atomic():
            PlanFactory(**fields)

    @pytest.mark.parametrize(
        "fields",
        [
            {"price": Decimal("10.00")},  # a price without a plan
            {"plan": "plan"},  # a plan without a price
            {"plan": "plan", "price": Decimal("0.00")},
        ],
    )
    def test_package_price_goes_with_its_plan(self, fields):
        if fields.get("plan") == "plan":
            fields = {**fields, "plan": PlanFactory()}
        with pytest.raises(IntegrityError), transaction.atomic():
            PackageFactory(**fields)

    def test_a_plan_with_packages_cannot_be_deleted(self):
        plan = PlanFactory()
        PackageFactory(plan=plan, price=plan.price)
        with pytest.raises(Exception, match="protected"), transaction.atomic():
            plan.delete()

    @pytest.mark.parametrize(
        ("status", "refunded_at"),
        [("refunded", None), ("succeeded", "now"), ("pending", "now"), ("failed", "now")],
    )
    def test_refunded_at_only_and_always_on_refunded_payments(self, status, refunded_at):
        payment = PaymentFactory()
        with pytest.raises(IntegrityError), transaction.atomic():
            Payment.objects.filter(pk=payment.pk).update(
                status=status, refunded_at=clock_module.now() if refunded_at else None
            )
