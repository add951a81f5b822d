import pytest
from django.db.models.query import QuerySet

from apps.audit.models import AuditLog
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.teachers import services
from apps.teachers.errors import (
    ApprovalForbidden,
    TeacherProfileExists,
    TeacherProfileForbidden,
    TeacherProfileNotFound,
    UserIsNotTeacher,
)
from apps.teachers.models import TeacherProfile
from apps.teachers.selectors import teacher_profile_get, teacher_profile_list
from apps.teachers.services import teacher_profile_create, teacher_profile_update
from apps.teachers.tests.factories import TeacherProfileFactory

pytestmark = pytest.mark.django_db


def test_duplicate_caught_by_the_unique_constraint_is_a_conflict(monkeypatch):
    """If the pre-check misses a concurrent profile, the database's unique constraint still says 409."""
    profile = TeacherProfileFactory()
    monkeypatch.setattr(QuerySet, "exists", lambda self: False)
    with pytest.raises(TeacherProfileExists):
        teacher_profile_create(actor=AdminFactory(), user_id=profile.user_id, display_name="Twin")
    assert TeacherProfile.objects.count() == 1
    assert not AuditLog.objects.exists()


def test_create_is_all_or_nothing_with_its_audit_row(monkeypatch):
    def broken_audit(**kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(services, "audit_log_record", broken_audit)
    with pytest.raises(RuntimeError):
        teacher_profile_create(actor=AdminFactory(), user_id=TeacherFactory().pk, display_name="Lost")
    assert not TeacherProfile.objects.exists()


def test_update_is_all_or_nothing_with_its_audit_row(monkeypatch):
    profile = TeacherProfileFactory(display_name="Kept")

    def broken_audit(**kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(services, "audit_log_record", broken_audit)
    with pytest.raises(RuntimeError):
        teacher_profile_update(actor=AdminFactory(), profile_id=profile.pk, data={"display_name": "Lost"})
    profile.refresh_from_db()
    assert profile.display_name == "Kept"


def test_create_rules():
    teacher = TeacherFactory()
    with pytest.raises(TeacherProfileForbidden):
        teacher_profile_create(actor=StudentFactory(), user_id=teacher.pk, display_name="No")
    with pytest.raises(TeacherProfileForbidden):
        teacher_profile_create(actor=TeacherFactory(), user_id=teacher.pk, display_name="No")
    with pytest.raises(UserIsNotTeacher):
        teacher_profile_create(actor=AdminFactory(), user_id=StudentFactory().pk, display_name="No")
    profile = teacher_profile_create(actor=teacher, user_id=teacher.pk, display_name="Yes")
    assert profile.user_id == teacher.pk and profile.is_approved is False


def test_update_rules():
    profile = TeacherProfileFactory(is_approved=False)
    with pytest.raises(ApprovalForbidden):
        teacher_profile_update(actor=profile.user, profile_id=profile.pk, data={"is_approved": True})
    with pytest.raises(TeacherProfileNotFound):
        teacher_profile_update(actor=TeacherFactory(), profile_id=profile.pk, data={"bio": "x"})
    # keys outside the updatable set are ignored
    updated = teacher_profile_update(actor=profile.user, profile_id=profile.pk, data={"user_id": None, "bio": "ok"})
    assert updated.bio == "ok" and updated.user_id == profile.user_id


def test_selectors_visibility():
    approved = TeacherProfileFactory(display_name="B")
    pending = TeacherProfileFactory(display_name="A", is_approved=False)
    admin = AdminFactory()
    assert list(teacher_profile_list()) == [approved]
    assert list(teacher_profile_list(viewer=pending.user)) == [approved]
    assert list(teacher_profile_list(viewer=admin)) == [pending, approved]
    assert teacher_profile_get(profile_id=pending.pk, viewer=pending.user) == pending
    assert teacher_profile_get(profile_id=pending.pk, viewer=admin) == pending
    with pytest.raises(TeacherProfileNotFound):
        teacher_profile_get(profile_id=pending.pk)


def test_django_admin_approve_action_goes_through_the_service(client):
    admin = AdminFactory()
    client.force_login(admin)
    pending = TeacherProfileFactory.create_batch(2, is_approved=False)
    response = client.post(
        "/admin/teachers/teacherprofile/",
        {"action": "approve", "_selected_action": [str(p.pk) for p in pending]},
    )
    assert response.status_code == 302
    assert set(TeacherProfile.objects.values_list("is_approved", flat=True)) == {True}
    assert AuditLog.objects.filter(action="teachers.profile.update", actor=admin).count() == 2


def test_django_admin_change_form_goes_through_the_service(client):
    admin = AdminFactory()
    client.force_login(admin)
    profile = TeacherProfileFactory(display_name="Before", bio="", experience_years=1)
    url = f"/admin/teachers/teacherprofile/{profile.pk}/change/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"display_name": "After", "bio": "", "experience_years": 2})
    assert response.status_code == 302, response.content
    profile.refresh_from_db()
    assert (profile.display_name, profile.experience_years) == ("After", 2)
    log = AuditLog.objects.get()
    assert log.payload["changed"] == {"display_name": "After", "experience_years": 2}
    response = client.post(url, {"display_name": "After", "bio": "", "experience_years": 81})
    assert response.status_code == 200  # form error, re-rendered
    profile.refresh_from_db()
    assert profile.experience_years == 2
