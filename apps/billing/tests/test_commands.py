from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from apps.audit.models import AuditLog, OutboxEvent
from apps.billing.models import PackageStatus
from apps.billing.tests.factories import PackageFactory
from apps.common import clock as clock_module

pytestmark = pytest.mark.django_db


def run_expire_packages() -> str:
    out = StringIO()
    call_command("expire_packages", stdout=out)
    return out.getvalue()


def test_expire_packages_command(clock):
    due = [PackageFactory(expires_at=clock_module.now() + timedelta(hours=1)) for _ in range(3)]
    later = PackageFactory(expires_at=clock_module.now() + timedelta(days=3))
    clock.advance(hours=2)

    assert run_expire_packages() == "Expired 3 packages.\n"
    for package in due:
        package.refresh_from_db()
        assert package.status == PackageStatus.EXPIRED
    later.refresh_from_db()
    assert later.status == PackageStatus.ACTIVE
    audits = AuditLog.objects.filter(action="billing.package.expire")
    assert sorted(a.entity_id for a in audits) == sorted(p.id for p in due)
    assert {a.actor_id for a in audits} == {None}
    assert OutboxEvent.objects.filter(event_type="billing.package.expired").count() == 3

    # Run again: nothing left to do, nothing written.
    assert run_expire_packages() == "Expired 0 packages.\n"
    assert AuditLog.objects.count() == 3
    assert OutboxEvent.objects.count() == 3


def test_expire_packages_command_with_nothing_due():
    PackageFactory()
    assert run_expire_packages() == "Expired 0 packages.\n"
