import uuid
from decimal import Decimal

import pytest

from apps.admin_ops import selectors, services
from apps.admin_ops.models import AdminAction
from apps.audit.models import AuditLog

pytestmark = pytest.mark.django_db


def test_admin_action_create_writes_the_action_and_its_audit_row(admin_user):
    target_id = uuid.uuid4()
    action = services.admin_action_create(
        admin=admin_user, action="package.extend", target_type="package", target_id=target_id, payload={"days": 7}
    )
    stored = AdminAction.objects.get()
    assert stored.id == action.id
    assert (stored.admin_id, stored.action, stored.target_type, stored.target_id, stored.payload) == (
        admin_user.id,
        "package.extend",
        "package",
        target_id,
        {"days": 7},
    )
    audit = AuditLog.objects.get()
    assert (audit.action, audit.entity_type, audit.entity_id, audit.actor_id) == (
        "admin_ops.action.create",
        "admin_action",
        action.id,
        admin_user.id,
    )


def test_kpi_selector_returns_decimals_with_two_places(school, django_assert_num_queries):
    with django_assert_num_queries(1):
        kpi = selectors.kpi_overview()
    assert kpi["payments_succeeded_amount"] == Decimal("80.05")
    assert kpi["payments_refunded_amount"] == Decimal("20.10")
    assert kpi["payments_net_amount"] == Decimal("59.95")
    assert isinstance(kpi["payments_net_amount"], Decimal)


def test_ops_selector_runs_four_queries(school, django_assert_num_queries):
    with django_assert_num_queries(4):
        ops = selectors.ops_overview(max_retries=5)
    assert ops["max_retries"] == 5
    assert ops["stale_booking_holds"] == 1
