import uuid

import pytest

from apps.audit.models import AuditLog
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.teachers.models import TeacherProfile
from apps.teachers.tests.factories import TeacherProfileFactory

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/teachers/profiles"
PROFILE_KEYS = {"id", "user_id", "display_name", "bio", "experience_years", "is_approved", "created_at", "updated_at"}


def detail_url(profile_id) -> str:
    return f"/api/v1/teachers/profiles/{profile_id}"


def assert_error(response, status_code: int, code: str) -> dict:
    assert response.status_code == status_code, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def snapshot(profile: TeacherProfile) -> dict:
    profile.refresh_from_db()
    return {f: getattr(profile, f) for f in ("display_name", "bio", "experience_years", "is_approved", "updated_at")}


# --- POST /profiles ---------------------------------------------------------------------------


def test_admin_creates_profile_for_a_teacher(admin_client, admin_user):
    teacher = TeacherFactory()
    response = admin_client.post(
        LIST_URL,
        {"user_id": str(teacher.pk), "display_name": "Ana Vidović", "bio": "Classical.", "experience_years": 12},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == PROFILE_KEYS
    profile = TeacherProfile.objects.get()
    assert body["id"] == str(profile.pk)
    assert body["user_id"] == str(teacher.pk)
    assert body["display_name"] == "Ana Vidović"
    assert body["bio"] == "Classical."
    assert body["experience_years"] == 12
    assert body["is_approved"] is False
    assert body["created_at"].endswith("Z")
    log = AuditLog.objects.get()
    assert log.action == "teachers.profile.create"
    assert log.actor_id == admin_user.pk
    assert log.entity_type == "teacher_profile"
    assert log.entity_id == profile.pk
    assert log.payload["user_id"] == str(teacher.pk)
    assert log.payload["display_name"] == "Ana Vidović"


def test_teacher_creates_own_profile_with_defaults(client_for):
    teacher = TeacherFactory()
    response = client_for(teacher).post(LIST_URL, {"user_id": str(teacher.pk), "display_name": "Bo"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["bio"] == ""
    assert body["experience_years"] == 0
    assert body["is_approved"] is False
    assert TeacherProfile.objects.get().user_id == teacher.pk
    assert AuditLog.objects.get().actor_id == teacher.pk


def test_read_only_and_unknown_fields_in_create_are_ignored(admin_client):
    teacher = TeacherFactory()
    response = admin_client.post(
        LIST_URL,
        {
            "user_id": str(teacher.pk),
            "display_name": "Cleo",
            "is_approved": True,
            "id": str(uuid.uuid4()),
            "favourite_chord": "Dm7",
        },
    )
    assert response.status_code == 201, response.content
    profile = TeacherProfile.objects.get()
    assert profile.is_approved is False
    assert response.json()["id"] == str(profile.pk)


def test_teacher_cannot_create_a_profile_for_another_teacher(client_for):
    teacher, other = TeacherFactory(), TeacherFactory()
    response = client_for(teacher).post(LIST_URL, {"user_id": str(other.pk), "display_name": "Other"})
    assert_error(response, 403, "forbidden")
    assert not TeacherProfile.objects.exists()
    assert not AuditLog.objects.exists()


def test_teacher_asking_for_unknown_user_gets_403_not_404(client_for):
    teacher = TeacherFactory()
    response = client_for(teacher).post(LIST_URL, {"user_id": str(uuid.uuid4()), "display_name": "Ghost"})
    assert_error(response, 403, "forbidden")


def test_student_cannot_create_profiles(student_client, student):
    teacher = TeacherFactory()
    for user_id in (teacher.pk, student.pk):
        response = student_client.post(LIST_URL, {"user_id": str(user_id), "display_name": "Nope"})
        assert_error(response, 403, "forbidden")
    assert not TeacherProfile.objects.exists()


def test_anonymous_cannot_create_profiles(api_client):
    teacher = TeacherFactory()
    response = api_client.post(LIST_URL, {"user_id": str(teacher.pk), "display_name": "Anon"})
    assert_error(response, 401, "not_authenticated")
    assert not TeacherProfile.objects.exists()


def test_unknown_user_is_404(admin_client):
    response = admin_client.post(LIST_URL, {"user_id": str(uuid.uuid4()), "display_name": "Ghost"})
    assert_error(response, 404, "not_found")
    assert not TeacherProfile.objects.exists()
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize("factory", [StudentFactory, AdminFactory])
def test_user_must_have_role_teacher(admin_client, factory):
    user = factory()
    response = admin_client.post(LIST_URL, {"user_id": str(user.pk), "display_name": "Not a teacher"})
    assert_error(response, 422, "business_rule_violation")
    assert not TeacherProfile.objects.exists()
    assert not AuditLog.objects.exists()


def test_one_profile_per_user(admin_client, client_for):
    profile = TeacherProfileFactory(display_name="First")
    before = snapshot(profile)
    for client in (admin_client, client_for(profile.user)):
        response = client.post(LIST_URL, {"user_id": str(profile.user_id), "display_name": "Second"})
        assert_error(response, 409, "conflict")
    assert TeacherProfile.objects.count() == 1
    assert snapshot(profile) == before
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"display_name": "A"}, "display_name"),
        ({"display_name": "x" * 129}, "display_name"),
        ({"display_name": "  A  "}, "display_name"),
        ({"display_name": "Fine", "bio": "b" * 5001}, "bio"),
        ({"display_name": "Fine", "experience_years": -1}, "experience_years"),
        ({"display_name": "Fine", "experience_years": 81}, "experience_years"),
        ({"display_name": "Fine", "experience_years": "many"}, "experience_years"),
        ({}, "display_name"),
    ],
)
def test_create_validation(admin_client, payload, field):
    teacher = TeacherFactory()
    response = admin_client.post(LIST_URL, {"user_id": str(teacher.pk), **payload})
    error = assert_error(response, 400, "validation_error")
    assert field in error["details"]
    assert not TeacherProfile.objects.exists()


@pytest.mark.parametrize(
    "payload", [{"display_name": "Edge", "experience_years": 80, "bio": "b" * 5000}, {"display_name": "x" * 128}]
)
def test_create_accepts_boundaries(admin_client, payload):
    teacher = TeacherFactory()
    response = admin_client.post(LIST_URL, {"user_id": str(teacher.pk), **payload})
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("user_id", [None, "not-a-uuid", "", "1234"])
def test_create_user_id_must_be_a_uuid(admin_client, user_id):
    payload = {"display_name": "Fine"}
    if user_id is not None:
        payload["user_id"] = user_id
    error = assert_error(admin_client.post(LIST_URL, payload), 400, "validation_error")
    assert "user_id" in error["details"]


def test_malformed_json_is_400(admin_client):
    response = admin_client.generic("POST", LIST_URL, "{not json", content_type="application/json")
    assert_error(response, 400, "validation_error")


# --- PATCH /profiles/{id} ---------------------------------------------------------------------


def test_owner_updates_own_profile(client_for):
    profile = TeacherProfileFactory(display_name="Old", bio="old bio", experience_years=3, is_approved=False)
    response = client_for(profile.user).patch(
        detail_url(profile.pk), {"display_name": "New Name", "experience_years": 4, "bio": "old bio"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == PROFILE_KEYS
    assert body["display_name"] == "New Name"
    assert body["experience_years"] == 4
    assert body["is_approved"] is False
    profile.refresh_from_db()
    assert (profile.display_name, profile.experience_years, profile.bio) == ("New Name", 4, "old bio")
    log = AuditLog.objects.get()
    assert log.action == "teachers.profile.update"
    assert log.actor_id == profile.user_id
    assert log.entity_id == profile.pk
    # only the fields that really changed
    assert log.payload["changed"] == {"display_name": "New Name", "experience_years": 4}
    assert log.payload["previous"] == {"display_name": "Old", "experience_years": 3}


def test_admin_approves_and_unapproves(admin_client, admin_user):
    profile = TeacherProfileFactory(is_approved=False)
    response = admin_client.patch(detail_url(profile.pk), {"is_approved": True})
    assert response.status_code == 200, response.content
    assert response.json()["is_approved"] is True
    profile.refresh_from_db()
    assert profile.is_approved is True
    response = admin_client.patch(detail_url(profile.pk), {"is_approved": False})
    assert response.status_code == 200
    profile.refresh_from_db()
    assert profile.is_approved is False
    logs = list(AuditLog.objects.order_by("created_at").values_list("action", "actor_id", "payload"))
    assert logs == [
        (
            "teachers.profile.update",
            admin_user.pk,
            {"changed": {"is_approved": True}, "previous": {"is_approved": False}},
        ),
        (
            "teachers.profile.update",
            admin_user.pk,
            {"changed": {"is_approved": False}, "previous": {"is_approved": True}},
        ),
    ]


def test_admin_edits_any_field(admin_client):
    profile = TeacherProfileFactory(bio="x")
    response = admin_client.patch(detail_url(profile.pk), {"bio": "", "experience_years": 80})
    assert response.status_code == 200, response.content
    profile.refresh_from_db()
    assert (profile.bio, profile.experience_years) == ("", 80)


def test_owner_cannot_approve_own_profile(client_for):
    profile = TeacherProfileFactory(is_approved=False, display_name="Same")
    before = snapshot(profile)
    response = client_for(profile.user).patch(detail_url(profile.pk), {"is_approved": True, "display_name": "Changed"})
    assert_error(response, 403, "forbidden")
    assert snapshot(profile) == before
    assert not AuditLog.objects.exists()


def test_owner_cannot_unapprove_own_profile(client_for):
    profile = TeacherProfileFactory(is_approved=True)
    before = snapshot(profile)
    response = client_for(profile.user).patch(detail_url(profile.pk), {"is_approved": False})
    assert_error(response, 403, "forbidden")
    assert snapshot(profile) == before


def test_owner_sending_current_is_approved_value_is_a_no_op(client_for):
    profile = TeacherProfileFactory(is_approved=True, display_name="Before")
    response = client_for(profile.user).patch(detail_url(profile.pk), {"is_approved": True, "display_name": "After"})
    assert response.status_code == 200, response.content
    profile.refresh_from_db()
    assert (profile.is_approved, profile.display_name) == (True, "After")
    assert AuditLog.objects.get().payload["changed"] == {"display_name": "After"}


def test_patch_without_changes_writes_nothing(client_for):
    profile = TeacherProfileFactory(display_name="Same")
    before = snapshot(profile)
    response = client_for(profile.user).patch(detail_url(profile.pk), {"display_name": "Same"})
    assert response.status_code == 200
    assert snapshot(profile) == before
    assert not AuditLog.objects.exists()


def test_user_id_cannot_be_changed(admin_client):
    profile = TeacherProfileFactory()
    other = TeacherFactory()
    response = admin_client.patch(detail_url(profile.pk), {"user_id": str(other.pk), "display_name": "Renamed"})
    assert response.status_code == 200, response.content
    assert response.json()["user_id"] == str(profile.user_id)
    profile.refresh_from_db()
    assert profile.user_id != other.pk
    assert profile.display_name == "Renamed"


def test_other_teacher_cannot_patch_an_approved_profile(client_for):
    profile = TeacherProfileFactory(is_approved=True)
    before = snapshot(profile)
    response = client_for(TeacherFactory()).patch(detail_url(profile.pk), {"display_name": "Hijack"})
    assert_error(response, 403, "forbidden")
    assert snapshot(profile) == before
    assert not AuditLog.objects.exists()


def test_other_teacher_patching_an_unapproved_profile_gets_404(client_for):
    profile = TeacherProfileFactory(is_approved=False)
    before = snapshot(profile)
    response = client_for(TeacherFactory()).patch(detail_url(profile.pk), {"display_name": "Hijack"})
    assert_error(response, 404, "not_found")
    assert snapshot(profile) == before


def test_student_and_anonymous_cannot_patch(student_client, api_client):
    profile = TeacherProfileFactory()
    before = snapshot(profile)
    assert_error(student_client.patch(detail_url(profile.pk), {"display_name": "X1"}), 403, "forbidden")
    assert_error(api_client.patch(detail_url(profile.pk), {"display_name": "X1"}), 401, "not_authenticated")
    assert snapshot(profile) == before


def test_patch_unknown_profile_is_404(admin_client):
    assert_error(admin_client.patch(detail_url(uuid.uuid4()), {"display_name": "Nobody"}), 404, "not_found")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"display_name": "A"}, "display_name"),
        ({"display_name": "x" * 129}, "display_name"),
        ({"bio": "b" * 5001}, "bio"),
        ({"experience_years": 81}, "experience_years"),
        ({"experience_years": -1}, "experience_years"),
        ({"is_approved": "maybe"}, "is_approved"),
    ],
)
def test_patch_validation(admin_client, payload, field):
    profile = TeacherProfileFactory()
    before = snapshot(profile)
    error = assert_error(admin_client.patch(detail_url(profile.pk), payload), 400, "validation_error")
    assert field in error["details"]
    assert snapshot(profile) == before


def test_put_is_not_allowed(admin_client):
    profile = TeacherProfileFactory()
    response = admin_client.put(detail_url(profile.pk), {"display_name": "Put"})
    assert response.status_code == 405


# --- GET /profiles ----------------------------------------------------------------------------


def test_public_list_shows_approved_only_by_display_name(api_client):
    TeacherProfileFactory(display_name="Zed")
    TeacherProfileFactory(display_name="Amy")
    TeacherProfileFactory(display_name="Hidden", is_approved=False)
    response = api_client.get(LIST_URL)
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2
    assert (body["limit"], body["offset"]) == (20, 0)
    assert [item["display_name"] for item in body["items"]] == ["Amy", "Zed"]
    assert set(body["items"][0]) == PROFILE_KEYS


def test_non_admin_users_see_approved_only(client_for):
    own = TeacherProfileFactory(display_name="Mine", is_approved=False)
    TeacherProfileFactory(display_name="Public")
    for user in (own.user, StudentFactory()):
        body = client_for(user).get(LIST_URL).json()
        assert [item["display_name"] for item in body["items"]] == ["Public"]


def test_admin_sees_every_profile(admin_client):
    TeacherProfileFactory(display_name="B approved")
    TeacherProfileFactory(display_name="A pending", is_approved=False)
    body = admin_client.get(LIST_URL).json()
    assert body["total"] == 2
    assert [(i["display_name"], i["is_approved"]) for i in body["items"]] == [
        ("A pending", False),
        ("B approved", True),
    ]


def test_list_pagination(api_client):
    for name in ("a", "b", "c", "d", "e"):
        TeacherProfileFactory(display_name=f"Teacher {name}")
    body = api_client.get(LIST_URL, {"limit": 2, "offset": 3}).json()
    assert body["total"] == 5
    assert (body["limit"], body["offset"]) == (2, 3)
    assert [i["display_name"] for i in body["items"]] == ["Teacher d", "Teacher e"]
    body = api_client.get(LIST_URL, {"offset": 10}).json()
    assert body["items"] == [] and body["total"] == 5


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"limit": "x"}])
def test_list_rejects_bad_paging(api_client, params):
    error = assert_error(api_client.get(LIST_URL, params), 400, "validation_error")
    assert set(error["details"]) == set(params)


@pytest.mark.parametrize("size", [1, 20])
def test_list_query_count_does_not_grow_with_page(api_client, admin_client, django_assert_max_num_queries, size):
    TeacherProfileFactory.create_batch(size)
    TeacherProfileFactory.create_batch(size, is_approved=False)
    with django_assert_max_num_queries(2):  # COUNT + page
        body = api_client.get(LIST_URL, {"limit": 100}).json()
    assert len(body["items"]) == size
    with django_assert_max_num_queries(3):  # + the token's user
        body = admin_client.get(LIST_URL, {"limit": 100}).json()
    assert len(body["items"]) == 2 * size


def test_invalid_token_on_public_list_is_401(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert_error(api_client.get(LIST_URL), 401, "invalid_token")


# --- GET /profiles/{id} -----------------------------------------------------------------------


def test_public_detail_of_approved_profile(api_client):
    profile = TeacherProfileFactory(display_name="Visible", bio="Jazz", experience_years=7)
    response = api_client.get(detail_url(profile.pk))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(profile.pk)
    assert body["user_id"] == str(profile.user_id)
    assert (body["display_name"], body["bio"], body["experience_years"], body["is_approved"]) == (
        "Visible",
        "Jazz",
        7,
        True,
    )


def test_unapproved_profile_is_hidden_from_the_public(api_client, student_client, client_for):
    profile = TeacherProfileFactory(is_approved=False)
    for client in (api_client, student_client, client_for(TeacherFactory())):
        assert_error(client.get(detail_url(profile.pk)), 404, "not_found")


def test_unapproved_profile_is_visible_to_admin_and_owner(admin_client, client_for):
    profile = TeacherProfileFactory(is_approved=False)
    for client in (admin_client, client_for(profile.user)):
        response = client.get(detail_url(profile.pk))
        assert response.status_code == 200
        assert response.json()["is_approved"] is False


def test_unknown_profile_is_404(api_client):
    assert_error(api_client.get(detail_url(uuid.uuid4())), 404, "not_found")
    assert_error(api_client.get("/api/v1/teachers/profiles/not-a-uuid"), 404, "not_found")
