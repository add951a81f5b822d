"""Identity services called directly."""

import pytest
from django.db import IntegrityError
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.audit.models import AuditLog
from apps.identity import services
from apps.identity.errors import EmailAlreadyRegistered, InvalidRefreshToken
from apps.identity.models import User
from apps.identity.selectors import user_for_request, user_get
from apps.identity.tests.factories import DEFAULT_PASSWORD, AdminFactory, StudentFactory

pytestmark = pytest.mark.django_db


def test_register_integrity_error_from_a_race_becomes_conflict(monkeypatch):
    # The pre-check found nothing, but a concurrent insert won: the DB constraint decides.
    monkeypatch.setattr(services, "user_find_by_email", lambda *, email: None)
    StudentFactory(email="race@example.com")

    with pytest.raises(EmailAlreadyRegistered):
        services.user_register(email="RACE@example.com", password=DEFAULT_PASSWORD)

    assert User.objects.count() == 1
    assert not AuditLog.objects.exists()


def test_database_refuses_case_variant_duplicates():
    StudentFactory(email="ci@example.com")

    with pytest.raises(IntegrityError):
        User.objects.create(email="CI@example.com")


def test_token_pair_issue_records_outstanding_refresh(student):
    pair = services.token_pair_issue(user=student)

    assert pair.token_type == "bearer"
    assert student.outstandingtoken_set.filter(jti=RefreshToken(pair.refresh_token)["jti"]).exists()


def test_deactivation_revokes_refresh_tokens_and_reactivation_does_not_restore_them():
    admin = AdminFactory()
    user = StudentFactory()
    old = services.token_pair_issue(user=user)

    services.user_set_active(actor=admin, user_id=user.pk, is_active=False)
    user.refresh_from_db()
    assert user.is_active is False
    assert BlacklistedToken.objects.filter(token__user=user).count() == 1

    services.user_set_active(actor=admin, user_id=user.pk, is_active=True)
    with pytest.raises(InvalidRefreshToken):
        services.auth_refresh(refresh_token=old.refresh_token)
    assert list(AuditLog.objects.order_by("created_at").values_list("action", "actor_id")) == [
        ("identity.user.deactivate", admin.pk),
        ("identity.user.activate", admin.pk),
    ]


def test_set_active_to_same_value_writes_nothing(student, admin_user):
    services.user_set_active(actor=admin_user, user_id=student.pk, is_active=True)

    assert not AuditLog.objects.exists()


def test_logout_of_deactivated_user_still_revokes(student):
    pair = services.token_pair_issue(user=student)
    jti = RefreshToken(pair.refresh_token)["jti"]
    User.objects.filter(pk=student.pk).update(is_active=False)

    services.auth_logout(refresh_token=pair.refresh_token)

    assert BlacklistedToken.objects.filter(token__jti=jti).exists()


# --- user_for_request: the bearer token's user ------------------------------------------------------


def test_the_token_user_lookup_returns_the_orms_user_in_one_statement(django_assert_num_queries):

    admin = AdminFactory(timezone="Europe/Madrid")
    with django_assert_num_queries(1):
        lean = user_for_request(user_id=str(admin.pk).upper())
    orm = user_get(user_id=admin.pk)
    columns = [k for k in vars(orm) if k != "_state"]
    assert [getattr(lean, k) for k in columns] == [getattr(orm, k) for k in columns]
    assert [type(getattr(lean, k)) for k in columns] == [type(getattr(orm, k)) for k in columns]
    assert (lean._state.db, lean._state.adding) == ("default", False)
    assert lean.is_admin and lean.check_password(DEFAULT_PASSWORD)


def test_the_token_user_lookup_of_an_unknown_or_malformed_id_is_none():
    assert user_for_request(user_id="6a1f9b8e-3c3e-4b8e-9d0f-000000000000") is None
    assert user_for_request(user_id="not-a-uuid") is None
