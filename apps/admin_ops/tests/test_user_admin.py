"""The Django admin's user actions run the API's services, with the staff member as actor (SPEC §8.1)."""

import pytest
from django.urls import reverse
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from apps.audit.models import AuditLog
from apps.booking.tests.factories import future_slot, make_confirmed
from apps.identity import services as identity_services
from apps.identity.models import Role, User
from apps.identity.tests.factories import StudentFactory, TeacherFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:identity_user_changelist")


@pytest.fixture
def site_client(client, admin_user):
    client.force_login(admin_user)
    return client


def run_action(site_client, action: str, *users) -> list[str]:
    """Run a changelist action and return the messages the page shows after the redirect."""
    response = site_client.post(
        CHANGELIST, {"action": action, "_selected_action": [str(u.pk) for u in users]}, follow=True
    )
    assert response.redirect_chain == [(CHANGELIST, 302)]
    return [str(message) for message in response.context["messages"]]


def test_the_changelist_offers_every_staff_action(site_client):
    actions = dict(site_client.get(CHANGELIST).context["action_form"].fields["action"].choices)

    assert {"deactivate_users", "activate_users", "make_student", "make_teacher", "make_admin"} <= set(actions)


def test_make_teacher_runs_the_role_service_as_the_staff_member(site_client, admin_user):
    student, other = StudentFactory(email="a@example.com"), StudentFactory(email="b@example.com")

    messages = run_action(site_client, "make_teacher", student, other)

    assert messages == ["Changed the role of 2 user(s) to teacher."]
    assert set(User.objects.filter(pk__in=[student.pk, other.pk]).values_list("role", flat=True)) == {Role.TEACHER}
    audits = AuditLog.objects.filter(action="identity.user.role.update")
    assert set(audits.values_list("actor_id", "entity_id")) == {(admin_user.pk, student.pk), (admin_user.pk, other.pk)}


def test_role_action_refusals_become_error_messages_and_change_nothing_for_them(site_client, admin_user):
    busy_teacher = TeacherFactory(email="busy@example.com")
    make_confirmed(slot=future_slot(hours=30, teacher=busy_teacher))
    free_teacher = TeacherFactory(email="free@example.com")
    audits_before = AuditLog.objects.count()

    messages = run_action(site_client, "make_student", admin_user, busy_teacher, free_teacher)

    assert f"{admin_user.email}: You cannot change your own role." in messages
    assert (
        "busy@example.com: This teacher still has upcoming bookings, holds, open slots or an approved profile; "
        "disable them first. (upcoming_confirmed_bookings: 1, holds: 0, open_slots: 0, profile_approved: False)"
    ) in messages
    assert messages[-1] == "Changed the role of 1 user(s) to student."
    assert User.objects.get(pk=admin_user.pk).role == Role.ADMIN
    assert User.objects.get(pk=busy_teacher.pk).role == Role.TEACHER
    assert User.objects.get(pk=free_teacher.pk).role == Role.STUDENT
    assert AuditLog.objects.count() == audits_before + 1


def test_same_role_counts_as_no_change(site_client):
    student = StudentFactory()

    assert run_action(site_client, "make_student", student) == ["Changed the role of 0 user(s) to student."]
    assert not AuditLog.objects.exists()


def test_deactivate_and_activate_actions_refuse_yourself_and_revoke_tokens(site_client, admin_user):
    student = StudentFactory(email="s@example.com")
    identity_services.token_pair_issue(user=student)

    messages = run_action(site_client, "deactivate_users", student, admin_user)

    assert f"{admin_user.email}: You cannot deactivate yourself." in messages
    assert messages[-1] == "Deactivated 1 user(s)."
    assert User.objects.get(pk=student.pk).is_active is False
    assert User.objects.get(pk=admin_user.pk).is_active is True
    assert BlacklistedToken.objects.filter(token__user=student).count() == 1
    assert AuditLog.objects.get(action="identity.user.deactivate").actor_id == admin_user.pk

    assert run_action(site_client, "deactivate_users", student) == ["Deactivated 0 user(s)."]
    assert run_action(site_client, "activate_users", student)[-1] == "Activated 1 user(s)."
    assert User.objects.get(pk=student.pk).is_active is True


def test_full_name_is_listed_and_searchable(site_client, django_assert_max_num_queries):
    StudentFactory(email="x1@example.com", full_name="Rosetta Tharpe")
    StudentFactory(email="x2@example.com", full_name="Someone Else")

    response = site_client.get(CHANGELIST, {"q": "tharpe"})

    assert response.status_code == 200
    assert response.context["cl"].result_count == 1
    assert b"Rosetta Tharpe" in response.content
    StudentFactory.create_batch(30)
    with django_assert_max_num_queries(12):
        assert site_client.get(CHANGELIST, {"q": "example"}).status_code == 200


def test_the_change_form_edits_full_name_but_not_role(site_client):
    user = StudentFactory(email="edit@example.com")
    url = reverse("admin:identity_user_change", args=[user.pk])

    response = site_client.post(
        url,
        {
            "email": "edit@example.com",
            "full_name": "Edited Name",
            "role": "admin",  # read-only: ignored
            "timezone": "Europe/Lisbon",
            "is_staff": "",
            "is_superuser": "",
            "last_login_0": "",
            "last_login_1": "",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    fresh = User.objects.get(pk=user.pk)
    assert (fresh.full_name, fresh.timezone, fresh.role) == ("Edited Name", "Europe/Lisbon", Role.STUDENT)
