"""The admin teacher roster, `GET /api/v1/admin/teachers` (SPEC §8.2), through HTTP."""

from datetime import timedelta

import pytest

from apps.admin_ops.selectors import admin_teacher_list
from apps.admin_ops.serializers import AdminTeacherSerializer
from apps.booking.models import BookingStatus
from apps.booking.tests.factories import BookingFactory
from apps.common import clock
from apps.common.rows import row_serializer_for
from apps.identity.models import Role, User
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.lessons.models import Lesson, LessonStatus
from apps.scheduling.models import SlotStatus
from apps.scheduling.tests.factories import SlotFactory
from apps.teachers.tests.factories import TeacherProfileFactory

pytestmark = pytest.mark.django_db

TEACHERS = "/api/v1/admin/teachers"
ROW_FIELDS = {
    "teacher_id",
    "profile_id",
    "email",
    "full_name",
    "display_name",
    "is_approved",
    "is_active",
    "upcoming_lessons",
    "completed_lessons",
    "created_at",
}


def lesson(teacher, status: str, *, starts_in: timedelta) -> Lesson:
    """A lesson row of `teacher` starting `starts_in` from now (negative: in the past), with its booking."""
    start = clock.now() + starts_in
    slot = SlotFactory(teacher=teacher, start_at=start, end_at=start + timedelta(hours=1), status=SlotStatus.BOOKED)
    booking = BookingFactory(slot=slot, status=BookingStatus.CONFIRMED, hold_expires_at=None)
    return Lesson.objects.create(
        booking=booking,
        student=booking.student,
        teacher=teacher,
        scheduled_start_at=slot.start_at,
        scheduled_end_at=slot.end_at,
        status=status,
    )


def _created(user, *, minutes_ago: int):
    User.objects.filter(pk=user.pk).update(created_at=clock.now() - timedelta(minutes=minutes_ago))
    return User.objects.get(pk=user.pk)


def rows_by_email(response) -> dict:
    assert response.status_code == 200, response.content
    return {row["email"]: row for row in response.json()["items"]}


def test_every_teacher_user_with_profile_and_lesson_counts(admin_client):
    profile = TeacherProfileFactory(
        user=TeacherFactory(email="ana@example.com", full_name="Ana Torres"), display_name="Ana T.", is_approved=True
    )
    ana = profile.user
    day = timedelta(days=1)
    lesson(ana, LessonStatus.SCHEDULED, starts_in=day)
    lesson(ana, LessonStatus.SCHEDULED, starts_in=2 * day)
    lesson(ana, LessonStatus.SCHEDULED, starts_in=-day)  # started without being completed: not upcoming
    lesson(ana, LessonStatus.COMPLETED, starts_in=-2 * day)
    lesson(ana, LessonStatus.COMPLETED, starts_in=-3 * day)
    lesson(ana, LessonStatus.COMPLETED, starts_in=-4 * day)
    lesson(ana, LessonStatus.CANCELED, starts_in=3 * day)
    lesson(ana, LessonStatus.NO_SHOW, starts_in=-5 * day)
    newcomer = TeacherFactory(email="new@example.com", is_active=False)  # no profile yet
    StudentFactory(email="student@example.com")
    AdminFactory(email="boss@example.com")

    rows = rows_by_email(admin_client.get(TEACHERS))

    assert set(rows) == {"ana@example.com", "new@example.com"}
    assert rows["ana@example.com"] == {
        "teacher_id": str(ana.pk),
        "profile_id": str(profile.pk),
        "email": "ana@example.com",
        "full_name": "Ana Torres",
        "display_name": "Ana T.",
        "is_approved": True,
        "is_active": True,
        "upcoming_lessons": 2,
        "completed_lessons": 3,
        "created_at": ana.created_at.isoformat().replace("+00:00", "Z"),
    }
    assert rows["new@example.com"] == {
        "teacher_id": str(newcomer.pk),
        "profile_id": None,
        "email": "new@example.com",
        "full_name": "",
        "display_name": None,
        "is_approved": False,
        "is_active": False,
        "upcoming_lessons": 0,
        "completed_lessons": 0,
        "created_at": newcomer.created_at.isoformat().replace("+00:00", "Z"),
    }


def test_a_former_teacher_is_not_listed_even_with_a_profile(admin_client):
    profile = TeacherProfileFactory(is_approved=False)
    User.objects.filter(pk=profile.user_id).update(role=Role.STUDENT)

    assert admin_client.get(TEACHERS).json()["items"] == []


def test_newest_teacher_first_by_the_users_created_at(admin_client):
    old = _created(TeacherProfileFactory().user, minutes_ago=60)
    newest = _created(TeacherFactory(), minutes_ago=1)
    middle = _created(TeacherProfileFactory().user, minutes_ago=30)
    TeacherProfileFactory._meta.model.objects.filter(user=old).update(created_at=clock.now())  # profile age is ignored

    body = admin_client.get(TEACHERS).json()

    assert [row["teacher_id"] for row in body["items"]] == [str(newest.pk), str(middle.pk), str(old.pk)]
    assert body["total"] == 3
    page = admin_client.get(TEACHERS, {"limit": 1, "offset": 1}).json()
    assert ([row["teacher_id"] for row in page["items"]], page["total"]) == ([str(middle.pk)], 3)


def test_is_approved_filter_counts_a_missing_profile_as_not_approved(admin_client):
    approved = TeacherProfileFactory(is_approved=True).user
    pending = TeacherProfileFactory(is_approved=False).user
    no_profile = TeacherFactory()

    def ids(value):
        return {row["teacher_id"] for row in admin_client.get(TEACHERS, {"is_approved": value}).json()["items"]}

    assert ids("true") == {str(approved.pk)}
    assert ids("false") == {str(pending.pk), str(no_profile.pk)}
    assert ids("") == {str(approved.pk), str(pending.pk), str(no_profile.pk)}


def test_q_matches_email_full_name_or_display_name_case_insensitively(admin_client):
    by_email = TeacherFactory(email="slide.master@example.com")
    by_full_name = TeacherProfileFactory(user=TeacherFactory(full_name="Bonnie SLIDE Raitt"), display_name="B.R.").user
    by_display_name = TeacherProfileFactory(display_name="Slide Guitar Sam", is_approved=False).user
    TeacherProfileFactory(user=TeacherFactory(full_name="Other"), display_name="Flamenco")
    StudentFactory(email="slide.student@example.com")  # not a teacher

    def ids(**params):
        return {row["teacher_id"] for row in admin_client.get(TEACHERS, params).json()["items"]}

    assert ids(q="slide") == {str(by_email.pk), str(by_full_name.pk), str(by_display_name.pk)}
    assert ids(q="SLIDE", is_approved="false") == {str(by_email.pk), str(by_display_name.pk)}
    assert ids(q="guitar sam") == {str(by_display_name.pk)}
    assert ids(q="%") == set()
    assert ids(q="nobody") == set()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"is_approved": "perhaps"}, "is_approved"),
        ({"q": "x" * 255}, "q"),
        ({"q": "\x00"}, "q"),
        ({"limit": 101}, "limit"),
    ],
)
def test_bad_query_is_400(admin_client, params, field):
    response = admin_client.get(TEACHERS, params)

    assert response.status_code == 400
    assert field in response.json()["error"]["details"]


def test_admins_only(api_client, student_client, teacher_client):
    assert api_client.get(TEACHERS).status_code == 401
    assert student_client.get(TEACHERS).json()["error"]["code"] == "forbidden"
    assert teacher_client.get(TEACHERS).status_code == 403


@pytest.mark.parametrize("teachers", [2, 20])
def test_a_constant_number_of_queries_whatever_the_number_of_teachers(
    admin_client, django_assert_max_num_queries, teachers
):
    for n in range(teachers):
        teacher = TeacherProfileFactory(is_approved=bool(n % 2)).user if n % 3 else TeacherFactory()
        lesson(teacher, LessonStatus.SCHEDULED, starts_in=timedelta(days=1))
        lesson(teacher, LessonStatus.COMPLETED, starts_in=-timedelta(days=1))

    # The caller's user, the page (counts are correlated subqueries in it), and the page's COUNT when the page is full.
    with django_assert_max_num_queries(3):
        response = admin_client.get(TEACHERS, {"limit": 10})

    items = response.json()["items"]
    assert len(items) == min(teachers, 10)
    assert all((row["upcoming_lessons"], row["completed_lessons"]) == (1, 1) for row in items)
    with django_assert_max_num_queries(3):
        assert admin_client.get(TEACHERS, {"limit": 100, "q": "teacher", "is_approved": "false"}).status_code == 200


def test_rows_render_as_drf_would(db):
    """The page renders from values_list() rows; the output is DRF's, byte for byte (apps/common/rows.py)."""
    TeacherProfileFactory(user=TeacherFactory(full_name="Ana"))
    no_profile = TeacherFactory()
    lesson(no_profile, LessonStatus.COMPLETED, starts_in=-timedelta(days=1))
    rows = row_serializer_for(AdminTeacherSerializer)
    assert rows is not None, "the roster lost its fast path"

    queryset = admin_teacher_list()

    assert rows(queryset) == AdminTeacherSerializer(queryset, many=True).data
