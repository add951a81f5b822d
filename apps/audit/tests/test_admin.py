import pytest
from django.urls import reverse

from apps.audit.models import AuditLog
from apps.audit.tests.factories import AuditLogFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_client(client, admin_user):
    """A Django-admin session for a staff admin."""
    client.force_login(admin_user)
    return client


def test_changelist_lists_filters_and_searches(site_client, admin_user):
    log = AuditLogFactory(action="booking.confirm", entity_type="booking", actor=admin_user)
    AuditLogFactory(action="billing.package.create", entity_type="package")
    url = reverse("admin:audit_auditlog_changelist")

    response = site_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 2
    assert b"booking.confirm" in response.content

    assert site_client.get(url, {"action": "booking.confirm"}).context["cl"].result_count == 1
    assert site_client.get(url, {"entity_type": "package"}).context["cl"].result_count == 1
    assert site_client.get(url, {"q": admin_user.email}).context["cl"].result_count == 1
    assert site_client.get(url, {"q": str(log.entity_id)}).context["cl"].result_count == 1
    assert site_client.get(url, {"q": "not-a-uuid"}).context["cl"].result_count == 0
    assert site_client.get(url, {"created_at__year": log.created_at.year}).status_code == 200


def test_audit_admin_is_read_only(site_client):
    log = AuditLogFactory(action="booking.confirm", entity_type="booking")

    assert site_client.get(reverse("admin:audit_auditlog_add")).status_code == 403
    response = site_client.post(reverse("admin:audit_auditlog_add"), {"action": "forged", "entity_type": "x"})
    assert response.status_code == 403

    change_url = reverse("admin:audit_auditlog_change", args=[log.pk])
    view = site_client.get(change_url)
    assert view.status_code == 200  # viewable, read-only
    assert site_client.post(change_url, {"action": "forged", "entity_type": "x"}).status_code == 403

    assert site_client.post(reverse("admin:audit_auditlog_delete", args=[log.pk]), {"post": "yes"}).status_code == 403
    changelist = site_client.get(reverse("admin:audit_auditlog_changelist"))
    # no bulk "delete selected" either
    assert changelist.context["cl"].model_admin.get_actions(changelist.wsgi_request) == {}
    site_client.post(
        reverse("admin:audit_auditlog_changelist"),
        {"action": "delete_selected", "_selected_action": [str(log.pk)], "post": "yes"},
    )

    log.refresh_from_db()
    assert (log.action, log.entity_type) == ("booking.confirm", "booking")
    assert AuditLog.objects.count() == 1
