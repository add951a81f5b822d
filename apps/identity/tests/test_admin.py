"""The Django admin site for users (email login, no username)."""

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from apps.identity import services
from apps.identity.models import Role, User
from apps.identity.tests.factories import StudentFactory, TeacherFactory

pytestmark = pytest.mark.django_db

SUPERUSER_PASSWORD = "Adm1n-Guitar-Pass!"


@pytest.fixture
def superuser(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", SUPERUSER_PASSWORD)
    call_command("createsuperuser", interactive=False, email="Boss@Example.com", verbosity=0)
    return User.objects.get(email="boss@example.com")


@pytest.fixture
def admin_site(superuser) -> Client:
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": "boss@example.com", "password": SUPERUSER_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    return client


def test_createsuperuser_makes_a_staff_admin(superuser):
    assert superuser.role == Role.ADMIN
    assert superuser.is_staff is True
    assert superuser.is_superuser is True
    assert superuser.check_password(SUPERUSER_PASSWORD)


def test_superuser_logs_into_the_admin_site(admin_site):
    response = admin_site.get("/admin/")

    assert response.status_code == 200
    assert b"Identity" in response.content


def test_wrong_password_does_not_log_in(superuser):
    client = Client()
    response = client.post("/admin/login/", {"username": "boss@example.com", "password": "nope"})

    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302


def test_non_staff_cannot_use_the_admin_site():
    StudentFactory(email="kid@example.com")
    client = Client()
    client.post("/admin/login/", {"username": "kid@example.com", "password": "Str0ng-Guitar-Pass!"})

    assert client.get("/admin/").status_code == 302


def test_user_changelist_search_and_filters(admin_site, django_assert_max_num_queries):
    StudentFactory(email="alice@example.com")
    TeacherFactory(email="bob@example.com")

    response = admin_site.get("/admin/identity/user/", {"q": "alice"})
    assert response.status_code == 200
    assert b"alice@example.com" in response.content
    assert b"bob@example.com" not in response.content

    response = admin_site.get("/admin/identity/user/", {"role__exact": "teacher", "is_active__exact": "1"})
    assert response.status_code == 200
    assert b"bob@example.com" in response.content
    assert b"alice@example.com" not in response.content

    StudentFactory.create_batch(30)
    with django_assert_max_num_queries(12):
        assert admin_site.get("/admin/identity/user/", {"is_staff__exact": "0"}).status_code == 200


def test_add_and_change_pages_render(admin_site):
    user = StudentFactory()

    add_page = admin_site.get("/admin/identity/user/add/")
    assert add_page.status_code == 200
    assert b'name="role"' in add_page.content and b'name="full_name"' in add_page.content
    response = admin_site.get(f"/admin/identity/user/{user.pk}/change/")
    assert response.status_code == 200
    assert b"field-created_at" in response.content and b"field-role" in response.content  # shown ...
    # ... but not editable: the role and the active flag change only through the actions (their services).
    for read_only in (b'name="created_at"', b'name="updated_at"', b'name="is_active"', b'name="role"'):
        assert read_only not in response.content
    assert b'name="email"' in response.content and b'name="full_name"' in response.content


def test_admin_adds_a_user_with_password1_password2(admin_site):
    response = admin_site.post(
        "/admin/identity/user/add/",
        {
            "email": "New.Teacher@Example.com",
            "role": "teacher",
            "timezone": "Europe/Madrid",
            "usable_password": "true",
            "password1": "Another-Str0ng-Pass!",
            "password2": "Another-Str0ng-Pass!",
        },
    )

    assert response.status_code == 302
    user = User.objects.get(email="new.teacher@example.com")
    assert user.role == Role.TEACHER
    assert user.timezone == "Europe/Madrid"
    assert user.check_password("Another-Str0ng-Pass!")


def test_admin_add_refuses_case_variant_duplicate_and_mismatched_passwords(admin_site):
    StudentFactory(email="dup@example.com")

    response = admin_site.post(
        "/admin/identity/user/add/",
        {
            "email": "DUP@example.com",
            "role": "student",
            "timezone": "UTC",
            "usable_password": "true",
            "password1": "Another-Str0ng-Pass!",
            "password2": "Different-Str0ng-Pass!",
        },
    )

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "email" in form.errors
    assert "password2" in form.errors
    assert User.objects.filter(email__iexact="dup@example.com").count() == 1


def test_deactivate_action_calls_the_service(admin_site, superuser):
    user = StudentFactory()
    services.token_pair_issue(user=user)

    response = admin_site.post(
        "/admin/identity/user/",
        {"action": "deactivate_users", "_selected_action": [str(user.pk), str(superuser.pk)]},
    )

    assert response.status_code == 302
    user.refresh_from_db()
    superuser.refresh_from_db()
    assert user.is_active is False
    assert superuser.is_active is True
    assert BlacklistedToken.objects.filter(token__user=user).count() == 1
