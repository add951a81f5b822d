import pytest
from django.urls import reverse

from apps.admin_ops.models import AdminAction
from apps.admin_ops.tests.factories import AdminActionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def site_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_admin_action_admin_lists_and_is_read_only(site_client, admin_user):
    action = AdminActionFactory(admin=admin_user, action="payment.reconcile", target_type="payment")
    changelist = reverse("admin:admin_ops_adminaction_changelist")
    response = site_client.get(changelist)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert site_client.get(changelist, {"q": admin_user.email}).context["cl"].result_count == 1
    assert site_client.get(changelist, {"target_type": "lesson"}).context["cl"].result_count == 0

    assert site_client.post(reverse("admin:admin_ops_adminaction_add"), {"action": "x"}).status_code == 403
    change_url = reverse("admin:admin_ops_adminaction_change", args=[action.pk])
    assert site_client.get(change_url).status_code == 200
    assert site_client.post(change_url, {"action": "forged"}).status_code == 403
    delete_url = reverse("admin:admin_ops_adminaction_delete", args=[action.pk])
    assert site_client.post(delete_url, {"post": "yes"}).status_code == 403

    action.refresh_from_db()
    assert action.action == "payment.reconcile"
    assert AdminAction.objects.count() == 1
