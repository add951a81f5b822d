"""Billing over HTTP: every rule of SPEC §3 Billing with exact status, code, body and DB state."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.models import LessonPackage, PackageStatus, Payment, PaymentStatus
from apps.billing.services import PAYMENT_TRANSITIONS
from apps.billing.tests.factories import PackageFactory, PaymentFactory
from apps.common import clock as clock_module
from apps.identity.tests.factories import StudentFactory

pytestmark = pytest.mark.django_db

PACKAGES = "/api/v1/billing/packages"
EXPIRE = "/api/v1/billing/packages/expire"
PAYMENTS = "/api/v1/billing/payments"

PACKAGE_FIELDS = {
    "id",
    "student_id",
    "lessons_total",
    "lessons_left",
    "lessons_reserved",
    "expires_at",
    "status",
    "plan_id",
    "price",
    "created_at",
    "updated_at",
}
PAYMENT_FIELDS = {
    "id",
    "package_id",
    "amount",
    "currency",
    "status",
    "external_reference",
    "paid_at",
    "refunded_at",
    "created_at",
    "updated_at",
}


def student_packages_url(student_id) -> str:
    return f"/api/v1/billing/packages/students/{student_id}"


def status_url(payment_id) -> str:
    return f"/api/v1/billing/payments/{payment_id}/status"


def future_iso(days: int = 30) -> str:
    return (clock_module.now() + timedelta(days=days)).isoformat()


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def row_counts() -> tuple[int, int, int, int]:
    return (
        LessonPackage.objects.count(),
        Payment.objects.count(),
        AuditLog.objects.count(),
        OutboxEvent.objects.count(),
    )


# --- POST /packages ---


class TestPackageCreate:
    def test_admin_creates_package(self, admin_client, admin_user, student):
        expires_at = clock_module.now().replace(microsecond=0) + timedelta(days=30)
        response = admin_client.post(
            PACKAGES,
            {"student_id": str(student.id), "lessons_total": 8, "expires_at": expires_at.isoformat()},
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == PACKAGE_FIELDS
        assert body["student_id"] == str(student.id)
        assert body["lessons_total"] == 8
        assert body["lessons_left"] == 8
        assert body["lessons_reserved"] == 0
        assert body["status"] == "active"
        assert body["expires_at"] == expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")

        package = LessonPackage.objects.get(pk=body["id"])
        assert (package.student_id, package.lessons_total, package.lessons_left, package.lessons_reserved) == (
            student.id,
            8,
            8,
            0,
        )
        assert package.expires_at == expires_at
        expected_payload = {
            "package_id": str(package.id),
            "student_id": str(student.id),
            "lessons_total": 8,
            "lessons_left": 8,
            "expires_at": expires_at.isoformat(),
            "status": "active",
        }
        audit = AuditLog.objects.get()
        assert (audit.action, audit.entity_type, audit.entity_id, audit.actor_id) == (
            "billing.package.create",
            "package",
            package.id,
            admin_user.id,
        )
        assert audit.payload == expected_payload
        event = OutboxEvent.objects.get()
        assert (event.aggregate_type, event.aggregate_id, event.event_type, event.status) == (
            "package",
            package.id,
            "billing.package.created",
            "pending",
        )
        assert event.payload == expected_payload

    def test_expires_at_with_offset_is_stored_in_utc(self, admin_client, student):
        response = admin_client.post(
            PACKAGES,
            {"student_id": str(student.id), "lessons_total": 1, "expires_at": "2099-01-01T12:00:00+02:00"},
        )
        assert response.status_code == 201
        assert response.json()["expires_at"] == "2099-01-01T10:00:00Z"

    @pytest.mark.parametrize("who", ["student_client", "teacher_client"])
    def test_non_admin_forbidden(self, request, who, student):
        client = request.getfixturevalue(who)
        response = client.post(
            PACKAGES, {"student_id": str(student.id), "lessons_total": 5, "expires_at": future_iso()}
        )
        assert_error(response, 403, "forbidden")
        assert row_counts() == (0, 0, 0, 0)

    def test_anonymous_401(self, api_client, student):
        response = api_client.post(
            PACKAGES, {"student_id": str(student.id), "lessons_total": 5, "expires_at": future_iso()}
        )
        assert_error(response, 401, "not_authenticated")
        assert row_counts() == (0, 0, 0, 0)

    def test_teacher_as_student_is_422(self, admin_client, teacher):
        response = admin_client.post(
            PACKAGES, {"student_id": str(teacher.id), "lessons_total": 5, "expires_at": future_iso()}
        )
        error = assert_error(response, 422, "business_rule_violation")
        assert error["message"] == "The user must be a student."
        assert row_counts() == (0, 0, 0, 0)

    def test_admin_as_student_is_422(self, admin_client, admin_user):
        response = admin_client.post(
            PACKAGES, {"student_id": str(admin_user.id), "lessons_total": 5, "expires_at": future_iso()}
        )
        assert_error(response, 422, "business_rule_violation")
        assert row_counts() == (0, 0, 0, 0)

    def test_unknown_student_is_422(self, admin_client):
        response = admin_client.post(
            PACKAGES, {"student_id": str(uuid.uuid4()), "lessons_total": 5, "expires_at": future_iso()}
        )
        error = assert_error(response, 422, "business_rule_violation")
        assert error["message"] == "The user must be a student."
        assert row_counts() == (0, 0, 0, 0)

    def test_expires_at_in_past_is_422(self, admin_client, student):
        past = (clock_module.now() - timedelta(minutes=1)).isoformat()
        response = admin_client.post(PACKAGES, {"student_id": str(student.id), "lessons_total": 5, "expires_at": past})
        assert_error(response, 422, "business_rule_violation")
        assert row_counts() == (0, 0, 0, 0)

    def test_expires_at_now_is_422(self, admin_client, student, clock, monkeypatch):
        frozen = clock_module.now()
        monkeypatch.setattr(clock_module, "now", lambda: frozen)
        response = admin_client.post(
            PACKAGES, {"student_id": str(student.id), "lessons_total": 5, "expires_at": frozen.isoformat()}
        )
        assert_error(response, 422, "business_rule_violation")
        assert row_counts() == (0, 0, 0, 0)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("lessons_total", 0),
            ("lessons_total", -3),
            ("lessons_total", "many"),
            ("lessons_total", 1.5),
            ("lessons_total", 10**12),
            ("lessons_total", None),
            ("expires_at", "2099-01-01T10:00:00"),
            ("expires_at", "tomorrow"),
            ("expires_at", "2099-13-01T10:00:00Z"),
            ("expires_at", None),
            ("student_id", "not-a-uuid"),
            ("student_id", None),
        ],
    )
    def test_malformed_fields_are_400(self, admin_client, student, field, value):
        data = {"student_id": str(student.id), "lessons_total": 5, "expires_at": future_iso()}
        data[field] = value
        error = assert_error(admin_client.post(PACKAGES, data), 400, "validation_error")
        assert field in error["details"]
        assert row_counts() == (0, 0, 0, 0)

    @pytest.mark.parametrize("missing", ["student_id", "lessons_total", "expires_at"])
    def test_missing_fields_are_400(self, admin_client, student, missing):
        data = {"student_id": str(student.id), "lessons_total": 5, "expires_at": future_iso()}
        del data[missing]
        error = assert_error(admin_client.post(PACKAGES, data), 400, "validation_error")
        assert missing in error["details"]
        assert row_counts() == (0, 0, 0, 0)

    def test_malformed_json_is_400(self, admin_client):
        response = admin_client.post(PACKAGES, data="{not json", content_type="application/json")
        assert_error(response, 400, "validation_error")

    def test_unknown_and_read_only_fields_are_ignored(self, admin_client, student):
        response = admin_client.post(
            PACKAGES,
            {
                "student_id": str(student.id),
                "lessons_total": 5,
                "expires_at": future_iso(),
                "lessons_left": 99,
                "lessons_reserved": 3,
                "status": "expired",
                "colour": "blue",
            },
        )
        assert response.status_code == 201
        body = response.json()
        assert (body["lessons_left"], body["lessons_reserved"], body["status"]) == (5, 0, "active")

    def test_no_redirect_on_exact_path(self, admin_client):
        response = admin_client.get(PACKAGES)
        assert response.status_code == 405


# --- GET /packages/students/{student_id} ---


class TestStudentPackageList:
    def test_admin_sees_student_packages_newest_first(self, admin_client, student):
        older = PackageFactory(student=student)
        newer = PackageFactory(student=student, lessons_total=4, lessons_left=4)
        PackageFactory()  # someone else's
        response = admin_client.get(student_packages_url(student.id))
        assert response.status_code == 200
        body = response.json()
        assert (body["total"], body["limit"], body["offset"]) == (2, 20, 0)
        assert [item["id"] for item in body["items"]] == [str(newer.id), str(older.id)]
        assert set(body["items"][0]) == PACKAGE_FIELDS
        assert body["items"][0]["lessons_total"] == 4

    def test_student_sees_own(self, student_client, student):
        package = PackageFactory(student=student)
        response = student_client.get(student_packages_url(student.id))
        assert response.status_code == 200
        assert [item["id"] for item in response.json()["items"]] == [str(package.id)]

    def test_other_student_forbidden(self, client_for, student):
        PackageFactory(student=student)
        response = client_for(StudentFactory()).get(student_packages_url(student.id))
        assert_error(response, 403, "forbidden")

    def test_teacher_forbidden(self, teacher_client, student):
        assert_error(teacher_client.get(student_packages_url(student.id)), 403, "forbidden")

    def test_anonymous_401(self, api_client, student):
        assert_error(api_client.get(student_packages_url(student.id)), 401, "not_authenticated")

    def test_unknown_student_for_admin_is_empty_page(self, admin_client):
        response = admin_client.get(student_packages_url(uuid.uuid4()))
        assert response.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}

    def test_pagination(self, admin_client, student):
        packages = [PackageFactory(student=student) for _ in range(5)]
        response = admin_client.get(student_packages_url(student.id), {"limit": 2, "offset": 1})
        body = response.json()
        assert (body["total"], body["limit"], body["offset"]) == (5, 2, 1)
        assert [item["id"] for item in body["items"]] == [str(packages[3].id), str(packages[2].id)]

    @pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}])
    def test_bad_page_params_400(self, admin_client, student, query):
        assert_error(admin_client.get(student_packages_url(student.id), query), 400, "validation_error")

    @pytest.mark.parametrize("count", [1, 30])
    def test_query_count_independent_of_page_size(self, client_for, student, count, django_assert_max_num_queries):
        for _ in range(count):
            PackageFactory(student=student)
        client = client_for(student)
        # auth user + COUNT + page SELECT
        with django_assert_max_num_queries(3):
            response = client.get(student_packages_url(student.id), {"limit": 100})
        assert len(response.json()["items"]) == count


# --- POST /packages/expire ---


class TestPackageExpire:
    def test_expires_due_active_packages_once(self, admin_client, admin_user, clock):
        due = [PackageFactory(expires_at=clock_module.now() + timedelta(hours=1)) for _ in range(3)]
        later = PackageFactory(expires_at=clock_module.now() + timedelta(days=10))
        canceled = PackageFactory(expires_at=clock_module.now() + timedelta(hours=1), status=PackageStatus.CANCELED)
        clock.advance(hours=2)

        response = admin_client.post(EXPIRE)
        assert response.status_code == 200
        assert response.json() == {"expired": 3}
        for package in due:
            package.refresh_from_db()
            assert package.status == PackageStatus.EXPIRED
        later.refresh_from_db()
        canceled.refresh_from_db()
        assert later.status == PackageStatus.ACTIVE
        assert canceled.status == PackageStatus.CANCELED

        audits = AuditLog.objects.filter(action="billing.package.expire")
        assert sorted(a.entity_id for a in audits) == sorted(p.id for p in due)
        assert {a.actor_id for a in audits} == {admin_user.id}
        events = OutboxEvent.objects.filter(event_type="billing.package.expired")
        assert sorted(e.aggregate_id for e in events) == sorted(p.id for p in due)
        event = events.get(aggregate_id=due[0].id)
        assert event.aggregate_type == "package"
        assert event.payload == {
            "package_id": str(due[0].id),
            "student_id": str(due[0].student_id),
            "lessons_total": 10,
            "lessons_left": 10,
            "expires_at": due[0].expires_at.isoformat(),
            "status": "expired",
        }

        # A second run finds nothing and writes nothing.
        before = row_counts()
        assert admin_client.post(EXPIRE).json() == {"expired": 0}
        assert row_counts() == before

    def test_nothing_due(self, admin_client):
        PackageFactory()
        assert admin_client.post(EXPIRE).json() == {"expired": 0}
        assert AuditLog.objects.count() == 0

    def test_open_holds_are_left_alone(self, admin_client, clock):
        package = PackageFactory(lessons_left=6, lessons_reserved=2, expires_at=clock_module.now() + timedelta(hours=1))
        clock.advance(hours=2)
        assert admin_client.post(EXPIRE).json() == {"expired": 1}
        package.refresh_from_db()
        assert (package.status, package.lessons_left, package.lessons_reserved) == ("expired", 6, 2)

    @pytest.mark.parametrize("who", ["student_client", "teacher_client"])
    def test_non_admin_forbidden(self, request, who, clock):
        package = PackageFactory(expires_at=clock_module.now() + timedelta(hours=1))
        clock.advance(hours=2)
        assert_error(request.getfixturevalue(who).post(EXPIRE), 403, "forbidden")
        package.refresh_from_db()
        assert package.status == PackageStatus.ACTIVE
        assert AuditLog.objects.count() == 0


# --- POST /payments ---


def payment_data(package, **overrides) -> dict:
    data = {"package_id": str(package.id), "amount": "49.90"}
    data.update(overrides)
    return data


class TestPaymentCreate:
    def test_admin_records_payment(self, admin_client, admin_user):
        package = PackageFactory()
        response = admin_client.post(PAYMENTS, payment_data(package, external_reference="stripe_pi_1"))
        assert response.status_code == 201, response.content
        body = response.json()
        assert set(body) == PAYMENT_FIELDS
        assert body["package_id"] == str(package.id)
        assert body["amount"] == "49.90"
        assert body["currency"] == "USD"
        assert body["status"] == "pending"
        assert body["external_reference"] == "stripe_pi_1"
        assert body["paid_at"] is None

        payment = Payment.objects.get(pk=body["id"])
        assert payment.amount == Decimal("49.90")
        expected_payload = {
            "payment_id": str(payment.id),
            "package_id": str(package.id),
            "student_id": str(package.student_id),
            "amount": "49.90",
            "currency": "USD",
            "status": "pending",
        }
        audit = AuditLog.objects.get()
        assert (audit.action, audit.entity_type, audit.entity_id, audit.actor_id) == (
            "billing.payment.create",
            "payment",
            payment.id,
            admin_user.id,
        )
        assert audit.payload == expected_payload
        event = OutboxEvent.objects.get()
        assert (event.aggregate_type, event.aggregate_id, event.event_type) == (
            "payment",
            payment.id,
            "billing.payment.created",
        )
        assert event.payload == expected_payload

    def test_owning_student_records_payment(self, client_for, student):
        package = PackageFactory(student=student)
        response = client_for(student).post(PAYMENTS, payment_data(package, currency="eur"))
        assert response.status_code == 201
        assert response.json()["currency"] == "EUR"
        assert Payment.objects.get().currency == "EUR"
        assert AuditLog.objects.get().actor_id == student.id

    def test_other_student_forbidden(self, client_for):
        package = PackageFactory()
        response = client_for(StudentFactory()).post(PAYMENTS, payment_data(package))
        assert_error(response, 403, "forbidden")
        assert (Payment.objects.count(), AuditLog.objects.count(), OutboxEvent.objects.count()) == (0, 0, 0)

    def test_teacher_forbidden(self, teacher_client):
        package = PackageFactory()
        assert_error(teacher_client.post(PAYMENTS, payment_data(package)), 403, "forbidden")
        assert Payment.objects.count() == 0

    def test_anonymous_401(self, api_client):
        package = PackageFactory()
        assert_error(api_client.post(PAYMENTS, payment_data(package)), 401, "not_authenticated")
        assert Payment.objects.count() == 0

    def test_unknown_package_404(self, admin_client):
        response = admin_client.post(PAYMENTS, {"package_id": str(uuid.uuid4()), "amount": "10.00"})
        assert_error(response, 404, "not_found")
        assert (Payment.objects.count(), AuditLog.objects.count()) == (0, 0)

    @pytest.mark.parametrize("package_status", [PackageStatus.EXPIRED, PackageStatus.CANCELED])
    def test_inactive_package_422(self, admin_client, package_status):
        package = PackageFactory(status=package_status)
        assert_error(admin_client.post(PAYMENTS, payment_data(package)), 422, "business_rule_violation")
        assert (Payment.objects.count(), AuditLog.objects.count(), OutboxEvent.objects.count()) == (0, 0, 0)

    def test_active_but_past_expiry_422(self, client_for, student, clock):
        package = PackageFactory(student=student, expires_at=clock_module.now() + timedelta(hours=1))
        clock.advance(hours=2)
        error = assert_error(client_for(student).post(PAYMENTS, payment_data(package)), 422, "business_rule_violation")
        assert "expired" in error["message"]
        assert Payment.objects.count() == 0

    @pytest.mark.parametrize(
        ("sent", "returned"),
        [
            ("49.90", "49.90"),
            ("49.9", "49.90"),
            (49.9, "49.90"),
            (10, "10.00"),
            ("0.01", "0.01"),
            ("1000000.00", "1000000.00"),
            ("1E+2", "100.00"),
        ],
    )
    def test_valid_amounts_returned_with_two_places(self, admin_client, sent, returned):
        package = PackageFactory()
        response = admin_client.post(PAYMENTS, payment_data(package, amount=sent))
        assert response.status_code == 201, response.content
        assert response.json()["amount"] == returned
        assert Payment.objects.get().amount == Decimal(returned)

    @pytest.mark.parametrize(
        "amount",
        [
            "0",
            "0.00",
            0,
            "-1",
            -0.01,
            "49.999",
            49.999,
            "0.001",
            "NaN",
            "nan",
            "Infinity",
            "-Infinity",
            "1e20",
            1e20,
            "1000000.01",
            "99999999999999999999",
            "abc",
            "",
            None,
            True,
            [],
            {},
        ],
    )
    def test_invalid_amounts_400(self, admin_client, amount):
        package = PackageFactory()
        error = assert_error(admin_client.post(PAYMENTS, payment_data(package, amount=amount)), 400, "validation_error")
        assert "amount" in error["details"]
        assert (Payment.objects.count(), AuditLog.objects.count(), OutboxEvent.objects.count()) == (0, 0, 0)

    @pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
    def test_json_nan_literals_400(self, admin_client, raw):
        package = PackageFactory()
        body = f'{{"package_id": "{package.id}", "amount": {raw}}}'
        assert_error(admin_client.post(PAYMENTS, data=body, content_type="application/json"), 400, "validation_error")
        assert Payment.objects.count() == 0

    def test_missing_amount_400(self, admin_client):
        package = PackageFactory()
        error = assert_error(admin_client.post(PAYMENTS, {"package_id": str(package.id)}), 400, "validation_error")
        assert "amount" in error["details"]

    @pytest.mark.parametrize("currency", ["US", "USDD", "U1D", "ÜSD", "US ", " USD", "", None, 123, "u$d"])
    def test_invalid_currency_400(self, admin_client, currency):
        package = PackageFactory()
        error = assert_error(
            admin_client.post(PAYMENTS, payment_data(package, currency=currency)), 400, "validation_error"
        )
        assert "currency" in error["details"]
        assert Payment.objects.count() == 0

    @pytest.mark.parametrize(("sent", "stored"), [("usd", "USD"), ("Gbp", "GBP"), ("EUR", "EUR")])
    def test_currency_stored_upper_case(self, admin_client, sent, stored):
        package = PackageFactory()
        response = admin_client.post(PAYMENTS, payment_data(package, currency=sent))
        assert response.status_code == 201
        assert response.json()["currency"] == stored
        assert Payment.objects.get().currency == stored

    def test_duplicate_external_reference_409(self, admin_client):
        package = PackageFactory()
        first = admin_client.post(PAYMENTS, payment_data(package, external_reference="ref-1"))
        assert first.status_code == 201
        before = row_counts()
        second = admin_client.post(PAYMENTS, payment_data(package, amount="10.00", external_reference="ref-1"))
        assert_error(second, 409, "conflict")
        assert row_counts() == before

    def test_blank_or_missing_external_reference_is_null_and_not_unique(self, admin_client):
        package = PackageFactory()
        for extra in ({}, {"external_reference": None}, {"external_reference": ""}, {"external_reference": "  "}):
            response = admin_client.post(PAYMENTS, payment_data(package, **extra))
            assert response.status_code == 201
            assert response.json()["external_reference"] is None
        assert Payment.objects.filter(external_reference__isnull=True).count() == 4

    def test_external_reference_too_long_400(self, admin_client):
        package = PackageFactory()
        response = admin_client.post(PAYMENTS, payment_data(package, external_reference="x" * 256))
        assert_error(response, 400, "validation_error")

    def test_malformed_package_id_400(self, admin_client):
        assert_error(admin_client.post(PAYMENTS, {"package_id": "nope", "amount": "1.00"}), 400, "validation_error")

    def test_read_only_fields_ignored(self, admin_client):
        package = PackageFactory()
        response = admin_client.post(
            PAYMENTS, payment_data(package, status="succeeded", paid_at="2026-01-01T00:00:00Z", id=str(uuid.uuid4()))
        )
        assert response.status_code == 201
        body = response.json()
        assert (body["status"], body["paid_at"]) == ("pending", None)


# --- PATCH /payments/{id}/status ---

ALL_STATUSES = [s.value for s in PaymentStatus]
ALLOWED = {
    ("pending", "succeeded"),
    ("pending", "failed"),
    ("failed", "pending"),
    ("failed", "succeeded"),
    ("succeeded", "refunded"),
}


class TestPaymentStatus:
    def test_transition_table_matches_spec(self):
        table = {(src, dst) for src, targets in PAYMENT_TRANSITIONS.items() for dst in targets}
        assert table == ALLOWED
        assert set(PAYMENT_TRANSITIONS) == set(ALL_STATUSES)

    @pytest.mark.parametrize(("src", "dst"), sorted(ALLOWED))
    def test_allowed_moves(self, admin_client, admin_user, clock, src, dst):
        earlier = clock_module.now() - timedelta(days=1)
        payment = PaymentFactory(
            status=src, paid_at=earlier if src in ("succeeded", "refunded") else None, amount=Decimal("12.50")
        )
        response = admin_client.patch(status_url(payment.id), {"status": dst})
        assert response.status_code == 200, response.content
        body = response.json()
        assert set(body) == PAYMENT_FIELDS
        assert body["status"] == dst
        assert body["amount"] == "12.50"
        payment.refresh_from_db()
        assert payment.status == dst
        if dst == "succeeded":
            assert payment.paid_at is not None and payment.paid_at > earlier
        elif dst == "refunded":
            assert payment.paid_at == earlier
        else:
            assert payment.paid_at is None
        if dst == "refunded":
            assert payment.refunded_at is not None and payment.refunded_at > earlier
            assert body["refunded_at"] == payment.refunded_at.isoformat().replace("+00:00", "Z")
        else:
            assert payment.refunded_at is None
            assert body["refunded_at"] is None
        audit = AuditLog.objects.get()
        assert (audit.action, audit.entity_type, audit.entity_id, audit.actor_id) == (
            "billing.payment.status.update",
            "payment",
            payment.id,
            admin_user.id,
        )
        assert audit.payload == {"from": src, "to": dst}
        event = OutboxEvent.objects.get()
        assert (event.aggregate_type, event.aggregate_id, event.event_type) == (
            "payment",
            payment.id,
            "billing.payment.status.updated",
        )
        assert event.payload == {
            "payment_id": str(payment.id),
            "package_id": str(payment.package_id),
            "student_id": str(payment.package.student_id),
            "amount": "12.50",
            "currency": "USD",
            "status": dst,
            "previous_status": src,
        }

    @pytest.mark.parametrize(
        ("src", "dst"),
        sorted((s, d) for s in ALL_STATUSES for d in ALL_STATUSES if s != d and (s, d) not in ALLOWED),
    )
    def test_disallowed_moves_422(self, admin_client, src, dst):
        paid_at = clock_module.now() if src in ("succeeded", "refunded") else None
        payment = PaymentFactory(status=src, paid_at=paid_at)
        error = assert_error(
            admin_client.patch(status_url(payment.id), {"status": dst}), 422, "business_rule_violation"
        )
        assert src in error["message"] and dst in error["message"]
        refunded_at = payment.refunded_at
        payment.refresh_from_db()
        assert (payment.status, payment.paid_at, payment.refunded_at) == (src, paid_at, refunded_at)
        assert (AuditLog.objects.count(), OutboxEvent.objects.count()) == (0, 0)

    @pytest.mark.parametrize("same", ALL_STATUSES)
    def test_same_status_is_noop(self, admin_client, same):
        paid_at = clock_module.now() - timedelta(hours=3) if same in ("succeeded", "refunded") else None
        payment = PaymentFactory(status=same, paid_at=paid_at)
        updated_at = payment.updated_at
        response = admin_client.patch(status_url(payment.id), {"status": same})
        assert response.status_code == 200
        assert response.json()["status"] == same
        payment.refresh_from_db()
        assert (payment.status, payment.paid_at, payment.updated_at) == (same, paid_at, updated_at)
        assert (AuditLog.objects.count(), OutboxEvent.objects.count()) == (0, 0)

    def test_paid_at_lifecycle(self, admin_client, clock):
        payment = PaymentFactory()
        admin_client.patch(status_url(payment.id), {"status": "failed"})
        payment.refresh_from_db()
        assert payment.paid_at is None
        clock.advance(minutes=5)
        before = clock_module.now()
        body = admin_client.patch(status_url(payment.id), {"status": "succeeded"}).json()
        payment.refresh_from_db()
        assert payment.paid_at >= before
        assert body["paid_at"] is not None
        assert (payment.refunded_at, body["refunded_at"]) == (None, None)
        clock.advance(days=2)
        refund_time = clock_module.now()
        body = admin_client.patch(status_url(payment.id), {"status": "refunded"}).json()
        refunded = Payment.objects.get(pk=payment.pk)
        assert refunded.paid_at == payment.paid_at
        assert body["paid_at"] is not None
        assert refunded.refunded_at >= refund_time and refunded.refunded_at - refund_time < timedelta(seconds=5)
        assert body["refunded_at"] is not None
        assert AuditLog.objects.filter(action="billing.payment.status.update").count() == 3

    def test_refunded_at_is_written_once(self, admin_client, clock):
        """Refunded is final: asking again, or for any other status, never moves refunded_at."""
        payment = PaymentFactory(status="succeeded", paid_at=clock_module.now())
        admin_client.patch(status_url(payment.id), {"status": "refunded"})
        first = Payment.objects.get(pk=payment.pk).refunded_at
        clock.advance(days=1)
        assert admin_client.patch(status_url(payment.id), {"status": "refunded"}).status_code == 200
        for status in ("pending", "succeeded", "failed"):
            assert admin_client.patch(status_url(payment.id), {"status": status}).status_code == 422
        assert Payment.objects.get(pk=payment.pk).refunded_at == first

    @pytest.mark.parametrize("value", ["paid", "SUCCEEDED", "", None, 1])
    def test_unknown_status_400(self, admin_client, value):
        payment = PaymentFactory()
        error = assert_error(admin_client.patch(status_url(payment.id), {"status": value}), 400, "validation_error")
        assert "status" in error["details"]
        payment.refresh_from_db()
        assert payment.status == "pending"
        assert AuditLog.objects.count() == 0

    def test_missing_status_400(self, admin_client):
        payment = PaymentFactory()
        assert_error(admin_client.patch(status_url(payment.id), {}), 400, "validation_error")

    def test_unknown_payment_404(self, admin_client):
        assert_error(admin_client.patch(status_url(uuid.uuid4()), {"status": "failed"}), 404, "not_found")

    @pytest.mark.parametrize("who", ["student_client", "teacher_client"])
    def test_non_admin_forbidden(self, request, who, student):
        payment = PaymentFactory(package__student=student)
        response = request.getfixturevalue(who).patch(status_url(payment.id), {"status": "succeeded"})
        assert_error(response, 403, "forbidden")
        payment.refresh_from_db()
        assert payment.status == "pending"
        assert AuditLog.objects.count() == 0


# --- GET /payments ---


class TestPaymentList:
    def test_admin_sees_all_newest_first(self, admin_client):
        payments = [PaymentFactory() for _ in range(3)]
        response = admin_client.get(PAYMENTS)
        assert response.status_code == 200
        body = response.json()
        assert (body["total"], body["limit"], body["offset"]) == (3, 20, 0)
        assert [item["id"] for item in body["items"]] == [str(p.id) for p in reversed(payments)]
        assert set(body["items"][0]) == PAYMENT_FIELDS
        assert body["items"][0]["amount"] == "49.90"

    def test_admin_filters_by_package(self, admin_client):
        package = PackageFactory()
        mine = [PaymentFactory(package=package) for _ in range(2)]
        PaymentFactory()
        body = admin_client.get(PAYMENTS, {"package_id": str(package.id)}).json()
        assert body["total"] == 2
        assert {item["id"] for item in body["items"]} == {str(p.id) for p in mine}

    def test_student_sees_only_own(self, client_for, student):
        own = PaymentFactory(package__student=student)
        PaymentFactory()
        body = client_for(student).get(PAYMENTS).json()
        assert body["total"] == 1
        assert [item["id"] for item in body["items"]] == [str(own.id)]

    def test_student_filtering_other_package_gets_empty_page(self, client_for, student):
        PaymentFactory(package__student=student)
        other = PaymentFactory()
        response = client_for(student).get(PAYMENTS, {"package_id": str(other.package_id)})
        assert response.status_code == 200
        assert response.json() == {"items": [], "total": 0, "limit": 20, "offset": 0}

    def test_teacher_forbidden(self, teacher_client):
        PaymentFactory()
        assert_error(teacher_client.get(PAYMENTS), 403, "forbidden")

    def test_anonymous_401(self, api_client):
        assert_error(api_client.get(PAYMENTS), 401, "not_authenticated")

    @pytest.mark.parametrize("query", [{"package_id": "x"}, {"limit": 0}, {"limit": 101}, {"offset": -1}])
    def test_bad_query_400(self, admin_client, query):
        assert_error(admin_client.get(PAYMENTS, query), 400, "validation_error")

    @pytest.mark.parametrize("count", [1, 30])
    @pytest.mark.parametrize("as_admin", [True, False])
    def test_query_count_independent_of_page_size(
        self, client_for, admin_user, student, count, as_admin, django_assert_max_num_queries
    ):
        package = PackageFactory(student=student)
        for _ in range(count):
            PaymentFactory(package=package)
        client = client_for(admin_user if as_admin else student)
        # auth user + COUNT + page SELECT
        with django_assert_max_num_queries(3):
            response = client.get(PAYMENTS, {"limit": 100, "package_id": str(package.id)})
        assert len(response.json()["items"]) == count
