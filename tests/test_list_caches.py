"""The cached per-user lists show every write on the first read after its response.

`GET /booking/my`, `/lessons/my`, `/notifications/my` and
`/billing/packages/students/{id}` are cached per scope (apps/common/page_cache.py).
Each scenario below warms every list of the student, the teacher and an
admin, proves the second read is served from the cache, then writes through
one path (HTTP endpoint, management command, the outbox worker) and reads
every list again right after: each answer must equal the page computed from
the database with the cache bypassed, and the written change must show.

These tests run in autocommit (`transaction=True`), as requests do in
production; inside a test transaction the cache is bypassed. Beside them, every
test of the suite checks that each cache hit is fresh and that application
code writing a listed table bumps that list (tests/page_cache_guard.py).
"""

from datetime import timedelta

import pytest
from django.core.management import call_command

from apps.billing.tests.factories import PackageFactory
from apps.booking.models import Booking
from apps.booking.tests.factories import future_slot, make_confirmed, make_hold
from apps.common import clock, page_cache, pagination
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.lessons.models import Lesson
from apps.notifications import worker
from apps.notifications.tests.factories import NotificationFactory

pytestmark = pytest.mark.django_db(transaction=True)

CYCLE = {"batch_size": 100, "max_retries": 3, "base_backoff_seconds": 30, "max_backoff_seconds": 300}


class School:
    """A student with a package, their teacher with open slots, an admin; and an HTTP client per person."""

    def __init__(self, client_for):
        self.admin = AdminFactory()
        self.student = StudentFactory()
        self.other_student = StudentFactory()
        self.teacher = TeacherFactory()
        self.package = PackageFactory(student=self.student)
        self.slots = [future_slot(hours=48 + 2 * i, teacher=self.teacher) for i in range(4)]
        self.clients = {name: client_for(getattr(self, name)) for name in ("admin", "student", "teacher")}

    def lists(self) -> dict[str, str]:
        """Every cached list URL, per reader."""
        packages = f"/api/v1/billing/packages/students/{self.student.pk}"
        mine = ["/api/v1/booking/my", "/api/v1/lessons/my", "/api/v1/notifications/my"]
        return {
            "student": [*mine, packages, "/api/v1/booking/my?status=hold"],
            "teacher": mine,
            "admin": [*mine, packages],
        }

    def read_all(self) -> dict:
        pages = {}
        for reader, urls in self.lists().items():
            for url in urls:
                response = self.clients[reader].get(url)
                assert response.status_code == 200, (reader, url, response.content)
                pages[reader, url] = response.json()
        return pages

    def read_all_uncached(self, monkeypatch) -> dict:
        with monkeypatch.context() as patch:
            patch.setattr(pagination, "cached_page", lambda *, scope, key, compute: compute())
            return self.read_all()


@pytest.fixture
def school(client_for):
    return School(client_for)


@pytest.fixture
def _email_in_memory(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _statuses(page: dict) -> list[str]:
    return [item["status"] for item in page["items"]]


def _read_write_read(school, monkeypatch, hits, write) -> tuple[dict, dict]:
    """Warm every list, check the cache answers, `write()`, and read everything again."""
    school.read_all()
    before_hits = hits.hits
    before = school.read_all()
    assert hits.hits - before_hits == len(before), "the second read of each list should come from the cache"
    write()
    after = school.read_all()
    assert after == school.read_all_uncached(monkeypatch)
    return before, after


BOOKINGS, LESSONS, NOTIFICATIONS = "/api/v1/booking/my", "/api/v1/lessons/my", "/api/v1/notifications/my"


def _packages(school) -> str:
    return f"/api/v1/billing/packages/students/{school.student.pk}"


# --- bookings, lessons, packages -------------------------------------------------------------------------


def test_hold(school, monkeypatch, _page_cache_hits_are_fresh):
    def write():
        response = school.clients["student"].post(
            "/api/v1/booking/hold", {"slot_id": str(school.slots[0].pk), "package_id": str(school.package.pk)}
        )
        assert response.status_code == 201

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    for reader in ("student", "teacher", "admin"):
        assert _statuses(after[reader, BOOKINGS]) == ["hold"], reader
    assert _statuses(after["student", "/api/v1/booking/my?status=hold"]) == ["hold"]
    assert after["student", _packages(school)]["items"][0]["lessons_reserved"] == 1
    assert after["admin", _packages(school)] == after["student", _packages(school)]


def test_confirm(school, monkeypatch, _page_cache_hits_are_fresh):
    hold = make_hold(student=school.student, slot=school.slots[0], package=school.package)

    def write():
        assert school.clients["teacher"].post(f"/api/v1/booking/{hold.pk}/confirm").status_code == 200

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    for reader in ("student", "teacher", "admin"):
        assert _statuses(after[reader, BOOKINGS]) == ["confirmed"], reader
        assert _statuses(after[reader, LESSONS]) == ["scheduled"], reader
    assert after["student", "/api/v1/booking/my?status=hold"]["items"] == []
    package = after["student", _packages(school)]["items"][0]
    assert (package["lessons_left"], package["lessons_reserved"]) == (9, 0)


def test_confirm_of_a_stale_hold_expires_it(school, monkeypatch, clock, _page_cache_hits_are_fresh):
    hold = make_hold(student=school.student, slot=school.slots[0], package=school.package)
    clock.advance(minutes=11)

    def write():
        assert school.clients["student"].post(f"/api/v1/booking/{hold.pk}/confirm").status_code == 422

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    assert _statuses(after["admin", BOOKINGS]) == ["expired"]
    assert after["student", _packages(school)]["items"][0]["lessons_reserved"] == 0


def test_cancel_a_hold(school, monkeypatch, _page_cache_hits_are_fresh):
    hold = make_hold(student=school.student, slot=school.slots[0], package=school.package)

    def write():
        assert school.clients["student"].post(f"/api/v1/booking/{hold.pk}/cancel", {}).status_code == 200

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    assert _statuses(after["teacher", BOOKINGS]) == ["canceled"]
    assert after["student", _packages(school)]["items"][0]["lessons_reserved"] == 0


@pytest.mark.parametrize("who", ["teacher", "student"])
def test_cancel_a_confirmed_booking(school, monkeypatch, _page_cache_hits_are_fresh, who):
    booking = make_confirmed(student=school.student, slot=school.slots[0], package=school.package)

    def write():
        response = school.clients[who].post(f"/api/v1/booking/{booking.pk}/cancel", {"reason": "ill"})
        assert response.status_code == 200

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    for reader in ("student", "teacher", "admin"):
        assert _statuses(after[reader, BOOKINGS]) == ["canceled"], reader
        assert _statuses(after[reader, LESSONS]) == ["canceled"], reader
    assert after["admin", BOOKINGS]["items"][0]["cancellation_reason"] == "ill"
    # Two days ahead: a refund either way (the student is outside the 24 h window).
    assert after["student", _packages(school)]["items"][0]["lessons_left"] == 10


def test_reschedule(school, monkeypatch, _page_cache_hits_are_fresh):
    booking = make_confirmed(student=school.student, slot=school.slots[0], package=school.package)

    def write():
        response = school.clients["student"].post(
            f"/api/v1/booking/{booking.pk}/reschedule", {"new_slot_id": str(school.slots[1].pk)}
        )
        assert response.status_code == 200

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    for reader in ("student", "teacher", "admin"):
        assert sorted(_statuses(after[reader, BOOKINGS])) == ["canceled", "confirmed"], reader
        assert sorted(_statuses(after[reader, LESSONS])) == ["canceled", "scheduled"], reader


def test_admin_reschedule(school, monkeypatch, _page_cache_hits_are_fresh):
    booking = make_confirmed(student=school.student, slot=school.slots[0], package=school.package)

    def write():
        response = school.clients["admin"].post(
            f"/api/v1/booking/{booking.pk}/reschedule", {"new_slot_id": str(school.slots[1].pk)}
        )
        assert response.status_code == 200

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    for reader in ("student", "teacher", "admin"):
        assert sorted(_statuses(after[reader, BOOKINGS])) == ["canceled", "confirmed"], reader
        assert sorted(_statuses(after[reader, LESSONS])) == ["canceled", "scheduled"], reader


def test_slot_cancel_cascades(school, monkeypatch, _page_cache_hits_are_fresh):
    make_confirmed(student=school.student, slot=school.slots[0], package=school.package)

    def write():
        response = school.clients["teacher"].post(f"/api/v1/scheduling/slots/{school.slots[0].pk}/cancel", {})
        assert response.status_code == 200, response.content

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    for reader in ("student", "teacher", "admin"):
        assert _statuses(after[reader, BOOKINGS]) == ["canceled"], reader
        assert _statuses(after[reader, LESSONS]) == ["canceled"], reader
    assert after["student", _packages(school)]["items"][0]["lessons_left"] == 10


def test_package_cancel_cascades(school, monkeypatch, _page_cache_hits_are_fresh):
    make_confirmed(student=school.student, slot=school.slots[0], package=school.package)
    make_hold(student=school.student, slot=school.slots[1], package=school.package)

    def write():
        response = school.clients["admin"].post(
            f"/api/v1/billing/packages/{school.package.pk}/cancel", {"force": True}, format="json"
        )
        assert response.status_code == 200, response.content

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    for reader in ("student", "teacher", "admin"):
        assert _statuses(after[reader, BOOKINGS]) == ["canceled", "canceled"], reader
        assert _statuses(after[reader, LESSONS]) == ["canceled"], reader
    assert _statuses(after["student", _packages(school)]) == ["canceled"]


def test_package_cancel_without_bookings(school, monkeypatch, _page_cache_hits_are_fresh):
    """Only the package row changes: its own writer must bump the list (no counter update does it here)."""

    def write():
        response = school.clients["admin"].post(f"/api/v1/billing/packages/{school.package.pk}/cancel", {})
        assert response.status_code == 200, response.content

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    assert _statuses(after["admin", _packages(school)]) == ["canceled"]


def test_teacher_disable_cascades(school, monkeypatch, _page_cache_hits_are_fresh):
    make_confirmed(student=school.student, slot=school.slots[0], package=school.package)
    make_hold(student=school.student, slot=school.slots[1], package=school.package)

    def write():
        response = school.clients["admin"].post(
            f"/api/v1/admin/teachers/{school.teacher.pk}/disable", {"reason": "Left the school"}, format="json"
        )
        assert response.status_code == 200, response.content

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    for reader in ("student", "teacher", "admin"):
        assert _statuses(after[reader, BOOKINGS]) == ["canceled", "canceled"], reader
        assert _statuses(after[reader, LESSONS]) == ["canceled"], reader
    package = after["student", _packages(school)]["items"][0]
    assert (package["lessons_left"], package["lessons_reserved"]) == (10, 0)


@pytest.mark.parametrize("how", ["api", "command"])
def test_hold_expiry_sweep(school, monkeypatch, clock, _page_cache_hits_are_fresh, how):
    make_hold(student=school.student, slot=school.slots[0], package=school.package)
    clock.advance(minutes=11)

    def write():
        if how == "api":
            assert school.clients["admin"].post("/api/v1/booking/holds/expire").json() == {"expired": 1}
        else:
            call_command("expire_booking_holds", stdout=None)

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    for reader in ("student", "teacher", "admin"):
        assert _statuses(after[reader, BOOKINGS]) == ["expired"], reader
    assert after["student", _packages(school)]["items"][0]["lessons_reserved"] == 0


def test_lesson_repair(school, monkeypatch, _page_cache_hits_are_fresh):
    booking = make_confirmed(student=school.student, slot=school.slots[0], package=school.package)
    Lesson.objects.filter(booking=booking).delete()  # the damage the repair tool exists for

    def write():
        response = school.clients["admin"].post("/api/v1/lessons", {"booking_id": str(booking.pk), "topic": "Scales"})
        assert response.status_code == 201

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    for reader in ("student", "teacher", "admin"):
        assert [item["topic"] for item in after[reader, LESSONS]["items"]] == ["Scales"], reader


def test_lesson_update(school, monkeypatch, clock, _page_cache_hits_are_fresh):
    booking = make_confirmed(student=school.student, slot=school.slots[0], package=school.package)
    lesson = Lesson.objects.get(booking=booking)
    clock.advance(hours=49)

    def write():
        response = school.clients["teacher"].patch(
            f"/api/v1/lessons/{lesson.pk}", {"status": "completed", "notes": "Good"}, format="json"
        )
        assert response.status_code == 200

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    for reader in ("student", "teacher", "admin"):
        assert _statuses(after[reader, LESSONS]) == ["completed"], reader


def test_package_create(school, monkeypatch, _page_cache_hits_are_fresh):
    def write():
        response = school.clients["admin"].post(
            "/api/v1/billing/packages",
            {
                "student_id": str(school.student.pk),
                "lessons_total": 4,
                "expires_at": (clock.now() + timedelta(days=10)).isoformat(),
            },
            format="json",
        )
        assert response.status_code == 201

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    assert [item["lessons_total"] for item in after["student", _packages(school)]["items"]] == [4, 10]


@pytest.mark.parametrize("how", ["api", "command"])
def test_package_expiry_sweep(school, monkeypatch, clock, _page_cache_hits_are_fresh, how):
    clock.advance(days=31)

    def write():
        if how == "api":
            assert school.clients["admin"].post("/api/v1/billing/packages/expire").json() == {"expired": 1}
        else:
            call_command("expire_packages", stdout=None)

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    assert _statuses(after["admin", _packages(school)]) == ["expired"]


def test_payment_create_changes_no_list(school, monkeypatch, _page_cache_hits_are_fresh):
    def write():
        response = school.clients["student"].post(
            "/api/v1/billing/payments", {"package_id": str(school.package.pk), "amount": "49.90"}, format="json"
        )
        assert response.status_code == 201

    before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    assert after == before


# --- notifications -------------------------------------------------------------------------------------


def test_notification_create(school, monkeypatch, _page_cache_hits_are_fresh):
    def write():
        response = school.clients["teacher"].post(
            "/api/v1/notifications", {"user_id": str(school.student.pk), "title": "Capo", "body": "Bring one"}
        )
        assert response.status_code == 201

    before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    assert [item["title"] for item in after["student", NOTIFICATIONS]["items"]] == ["Capo"]
    assert after["teacher", NOTIFICATIONS] == before["teacher", NOTIFICATIONS]


def test_notification_status_update(school, monkeypatch, _page_cache_hits_are_fresh):
    notification = NotificationFactory(user=school.student)

    def write():
        response = school.clients["student"].patch(
            f"/api/v1/notifications/{notification.pk}/status", {"status": "sent"}, format="json"
        )
        assert response.status_code == 200

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    assert _statuses(after["student", NOTIFICATIONS]) == ["sent"]


@pytest.mark.usefixtures("_email_in_memory")
def test_the_worker_inserts_and_delivers(school, monkeypatch, _page_cache_hits_are_fresh):
    make_confirmed(student=school.student, slot=school.slots[0], package=school.package)  # events for both

    def write():
        stats = worker.run_cycle(**CYCLE)
        assert stats.processed > 0 and stats.dispatched > 0

    before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    assert set(_statuses(after["student", NOTIFICATIONS])) == {"sent"}
    assert set(_statuses(after["teacher", NOTIFICATIONS])) == {"sent"}
    assert before["student", NOTIFICATIONS]["items"] == []


@pytest.mark.usefixtures("_email_in_memory")
def test_the_worker_marks_a_failed_delivery(school, monkeypatch, _page_cache_hits_are_fresh):
    NotificationFactory(user=school.student, channel="carrier-pigeon")

    def write():
        assert worker.run_cycle(**CYCLE).delivery_failed == 1

    _before, after = _read_write_read(school, monkeypatch, _page_cache_hits_are_fresh, write)
    assert _statuses(after["student", NOTIFICATIONS]) == ["failed"]


# --- the cache itself ------------------------------------------------------------------------------------


def test_a_cache_hit_costs_one_query_the_token_user(school, django_assert_num_queries, monkeypatch):
    make_confirmed(student=school.student, slot=school.slots[0], package=school.package)
    NotificationFactory(user=school.student)
    school.read_all()
    monkeypatch.setattr(page_cache, "on_hit", None)  # the suite's freshness check recomputes every hit
    for reader, urls in school.lists().items():
        for url in urls:
            with django_assert_num_queries(1):
                assert school.clients[reader].get(url).status_code == 200


def test_another_users_write_keeps_a_list_cached(school, client_for, _page_cache_hits_are_fresh):
    other = client_for(school.other_student)
    assert other.get(BOOKINGS).json()["items"] == []
    hold = school.clients["student"].post(
        "/api/v1/booking/hold", {"slot_id": str(school.slots[0].pk), "package_id": str(school.package.pk)}
    )
    assert hold.status_code == 201
    hits = _page_cache_hits_are_fresh.hits
    assert other.get(BOOKINGS).json()["items"] == []
    assert _page_cache_hits_are_fresh.hits == hits + 1


def test_a_write_rolled_back_halfway_bumps_nothing(school, _page_cache_hits_are_fresh):
    """Reschedule cancels the old booking (a bump is registered), then cannot hold the new slot: all rolled back."""
    booking = make_confirmed(student=school.student, slot=school.slots[0], package=school.package)
    make_hold(student=school.other_student, slot=school.slots[1])
    school.read_all()
    response = school.clients["student"].post(
        f"/api/v1/booking/{booking.pk}/reschedule", {"new_slot_id": str(school.slots[1].pk)}
    )
    assert response.status_code == 422
    hits = _page_cache_hits_are_fresh.hits
    pages = school.read_all()
    assert _page_cache_hits_are_fresh.hits - hits == len(pages)
    assert Booking.objects.get(pk=booking.pk).status == "confirmed"
