"""`GET /api/v1/admin/kpi/sales` (SPEC §8.4): money and packages over [from, to), exact at the edges."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.billing.models import LessonPackage, PaymentStatus
from apps.billing.tests.factories import PackageFactory, PaymentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/admin/kpi/sales"
START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
PERIOD = {"from": "2026-03-01T00:00:00Z", "to": "2026-04-01T00:00:00Z"}
TICK = timedelta(microseconds=1)
FIELDS = {
    "generated_at",
    "from",
    "to",
    "payments_succeeded_count",
    "payments_succeeded_amount",
    "payments_refunded_count",
    "payments_refunded_amount",
    "payments_net_amount",
    "packages_created",
    "packages_created_paid",
    "packages_paid_conversion_rate",
}
NOTHING = {
    "payments_succeeded_count": 0,
    "payments_succeeded_amount": "0.00",
    "payments_refunded_count": 0,
    "payments_refunded_amount": "0.00",
    "payments_net_amount": "0.00",
    "packages_created": 0,
    "packages_created_paid": 0,
    "packages_paid_conversion_rate": "0.00",
}


def figures(body: dict) -> dict:
    return {key: value for key, value in body.items() if key not in ("generated_at", "from", "to")}


def package_created_at(when: datetime, **kwargs) -> LessonPackage:
    package = PackageFactory(**kwargs)
    LessonPackage.objects.filter(pk=package.pk).update(created_at=when)
    return package


def received(amount: str, paid_at: datetime, *, package=None, refunded_at: datetime | None = None):
    """A payment received at paid_at (and refunded at refunded_at when given)."""
    status = PaymentStatus.REFUNDED if refunded_at else PaymentStatus.SUCCEEDED
    extra = {"package": package} if package is not None else {}
    return PaymentFactory(amount=Decimal(amount), status=status, paid_at=paid_at, refunded_at=refunded_at, **extra)


def test_empty_period_is_all_zero(admin_client):
    response = admin_client.get(URL, PERIOD)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == FIELDS
    assert (body["from"], body["to"]) == ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
    assert body["generated_at"].endswith("Z")
    assert figures(body) == NOTHING


def test_money_received_and_refunded_with_edges(admin_client):
    outside = package_created_at(START - timedelta(days=40))  # keeps the package counts out of this test
    # received in range: at `from` exactly, in the middle, a microsecond before `to`
    received("10.05", START, package=outside)
    received("49.90", START + timedelta(days=3), package=outside)
    received("0.10", END - TICK, package=outside)
    # received at `to` exactly, and a microsecond before `from`: not this period
    received("1000.00", END, package=outside)
    received("2000.00", START - TICK, package=outside)
    # received in range and refunded in range: counted on both sides
    received("20.10", START + timedelta(days=1), refunded_at=START + timedelta(days=2), package=outside)
    # received before the period, refunded at `from` exactly: a refund of this period only
    received("30.00", START - timedelta(days=5), refunded_at=START, package=outside)
    # received in range, refunded at `to` exactly: received here, refunded next period
    received("5.00", START + timedelta(days=4), refunded_at=END, package=outside)
    # pending and failed payments never count, whatever their dates
    PaymentFactory(package=outside, amount=Decimal("7.00"), status=PaymentStatus.PENDING)
    PaymentFactory(package=outside, amount=Decimal("8.00"), status=PaymentStatus.FAILED)

    body = admin_client.get(URL, PERIOD).json()

    assert figures(body) == NOTHING | {
        "payments_succeeded_count": 5,  # 10.05, 49.90, 0.10, 20.10, 5.00
        "payments_succeeded_amount": "85.15",
        "payments_refunded_count": 2,  # 20.10, 30.00
        "payments_refunded_amount": "50.10",
        "payments_net_amount": "35.05",
    }


def test_net_can_be_negative_when_refunds_outweigh_receipts(admin_client):
    received("99.99", START - timedelta(days=10), refunded_at=START + timedelta(hours=1))
    received("0.99", START + timedelta(hours=2))
    body = admin_client.get(URL, PERIOD).json()
    assert (body["payments_succeeded_amount"], body["payments_refunded_amount"], body["payments_net_amount"]) == (
        "0.99",
        "99.99",
        "-99.00",
    )


def test_packages_created_and_paid_with_edges(admin_client):
    at_from = package_created_at(START)
    last_tick = package_created_at(END - TICK)
    middle = package_created_at(START + timedelta(days=10))
    unpaid = package_created_at(START + timedelta(days=11))
    package_created_at(END)  # created at `to`: next period
    package_created_at(START - TICK)  # created a microsecond before `from`: previous period

    received("10.00", START, package=at_from)  # paid at `from` exactly
    received("10.00", START + timedelta(days=1), package=at_from)  # a second payment: still one package
    received("10.00", END - TICK, package=last_tick)  # paid a microsecond before `to`
    received("10.00", START + timedelta(days=12), refunded_at=START + timedelta(days=13), package=middle)
    received("10.00", END, package=unpaid)  # paid after the period: not paid in it
    PaymentFactory(package=unpaid, status=PaymentStatus.PENDING)
    PaymentFactory(package=unpaid, status=PaymentStatus.FAILED)

    body = admin_client.get(URL, PERIOD).json()

    assert (body["packages_created"], body["packages_created_paid"], body["packages_paid_conversion_rate"]) == (
        4,
        3,  # at_from, last_tick, middle (a refunded payment was still received)
        "0.75",
    )


@pytest.mark.parametrize(
    ("created", "paid", "rate"),
    [(1, 1, "1.00"), (3, 1, "0.33"), (3, 2, "0.67"), (8, 1, "0.13"), (7, 0, "0.00")],
)
def test_conversion_rate_has_two_places(admin_client, created, paid, rate):
    packages = [package_created_at(START + timedelta(hours=i + 1)) for i in range(created)]
    for package in packages[:paid]:
        received("1.00", START + timedelta(days=1), package=package)
    assert admin_client.get(URL, PERIOD).json()["packages_paid_conversion_rate"] == rate


def test_bounds_with_offsets_are_read_and_returned_in_utc(admin_client):
    received("12.34", START)
    body = admin_client.get(URL, {"from": "2026-03-01T02:00:00+02:00", "to": "2026-03-31T19:00:00-05:00"}).json()
    assert (body["from"], body["to"], body["payments_succeeded_amount"]) == (
        "2026-03-01T00:00:00Z",
        "2026-04-01T00:00:00Z",
        "12.34",
    )


def test_an_unencoded_plus_offset_is_understood(admin_client):
    response = admin_client.get(f"{URL}?from=2026-03-01T02:00:00+02:00&to=2026-04-01T00:00:00Z")
    assert response.status_code == 200, response.content
    assert response.json()["from"] == "2026-03-01T00:00:00Z"


def test_a_366_day_period_is_allowed(admin_client):
    response = admin_client.get(URL, {"from": "2028-01-01T00:00:00Z", "to": "2029-01-01T00:00:00Z"})  # leap year
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"to": PERIOD["to"]}, "from"),
        ({"from": PERIOD["from"]}, "to"),
        ({}, "from"),
        ({"from": "", "to": PERIOD["to"]}, "from"),
        ({"from": "2026-03-01T00:00:00", "to": PERIOD["to"]}, "from"),  # no offset
        ({"from": PERIOD["from"], "to": "2026-04-01"}, "to"),
        ({"from": "yesterday", "to": PERIOD["to"]}, "from"),
        ({"from": PERIOD["from"], "to": PERIOD["from"]}, "to"),  # to == from
        ({"from": PERIOD["to"], "to": PERIOD["from"]}, "to"),  # to < from
        ({"from": "2026-01-01T00:00:00Z", "to": "2027-01-02T00:00:00.000001Z"}, "to"),  # 366 days + 1 µs
        ({"from": "2000-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "to"),
    ],
)
def test_bad_periods_are_400(admin_client, query, field):
    response = admin_client.get(URL, query)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]


@pytest.mark.parametrize("who", ["student_client", "teacher_client"])
def test_admins_only(request, who):
    response = request.getfixturevalue(who).get(URL, PERIOD)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_anonymous_401(api_client):
    assert api_client.get(URL, PERIOD).status_code == 401


@pytest.mark.parametrize(("rows", "days"), [(2, 1), (40, 366)])
def test_constant_number_of_queries_whatever_the_rows_and_range(
    admin_client, rows, days, django_assert_max_num_queries
):
    start = END - timedelta(days=days)
    for i in range(rows):
        package = package_created_at(start + timedelta(minutes=i))
        received("3.00", start + timedelta(minutes=i), package=package, refunded_at=start + timedelta(hours=i % 2 + 1))
    # the user of the token, one aggregate over payments, one over packages
    with django_assert_max_num_queries(3):
        response = admin_client.get(URL, {"from": start.isoformat(), "to": END.isoformat()})
    body = response.json()
    assert (body["payments_succeeded_count"], body["packages_created"], body["packages_created_paid"]) == (
        rows,
        rows,
        rows,
    )
