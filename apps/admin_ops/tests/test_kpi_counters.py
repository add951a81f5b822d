"""The KPI counters the database keeps (apps/admin_ops/kpi_counters.py, migration admin_ops/0004).

Every test of the suite also checks them against a recount when it ends (the root conftest);
these tests cover what that check cannot see on its own: bulk statements, folding,
rebuilding, and writers racing each other and a fold.
"""

import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from apps.admin_ops import kpi_counters
from apps.admin_ops.models import KpiCounterDelta, KpiCounterTotal
from apps.billing.models import PaymentStatus
from apps.billing.services import payment_set_status
from apps.billing.tests.factories import PackageFactory, PaymentFactory
from apps.booking.services import booking_cancel, booking_confirm, booking_hold
from apps.booking.tests.factories import future_slot
from apps.identity.models import User
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="counters are kept by PostgreSQL triggers")


def agree() -> dict:
    counters = kpi_counters.counters_read()
    assert counters == kpi_counters.counters_recount()
    return counters


@pytest.mark.django_db
def test_every_kind_of_write_moves_the_counters():
    admin, student = AdminFactory(), StudentFactory()
    package = PackageFactory(student=student, lessons_total=3, lessons_left=3)
    booking = booking_hold(student=student, slot_id=future_slot(hours=72).pk, package_id=package.pk)
    assert agree()["bookings:hold"] == 1
    booking_confirm(actor=student, booking_id=booking.pk)
    counters = agree()
    assert ("bookings:hold" not in counters, counters["bookings:confirmed"], counters["lessons:scheduled"]) == (
        True,
        1,
        1,
    )
    booking_cancel(actor=admin, booking_id=booking.pk)
    assert agree()["lessons:canceled"] == 1

    payment = PaymentFactory(package=package, amount=Decimal("49.90"))
    payment_set_status(actor=admin, payment_id=payment.pk, status=PaymentStatus.SUCCEEDED)
    payment_set_status(actor=admin, payment_id=payment.pk, status=PaymentStatus.REFUNDED)
    assert agree()["payments_amount:refunded"] == Decimal("49.90")

    teachers = agree()["users:teacher"]
    User.objects.filter(pk=student.pk).update(role="teacher")  # a plain UPDATE counts too
    assert agree()["users:teacher"] == teachers + 1
    deltas = KpiCounterDelta.objects.count()
    User.objects.filter(pk=student.pk).update(email="renamed@example.com")  # not a counted column
    assert KpiCounterDelta.objects.count() == deltas


@pytest.mark.django_db
def test_a_bulk_statement_adds_one_delta_per_metric():
    TeacherFactory()
    before = KpiCounterDelta.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO users (id, password, is_superuser, email, full_name, role, timezone, is_active, is_staff, "
            "created_at, updated_at) SELECT gen_random_uuid(), '!', false, 'bulk' || n || '@example.com', '', "
            "'student', 'UTC', true, false, now(), now() FROM generate_series(1, 500) AS n"
        )
    assert KpiCounterDelta.objects.count() == before + 1
    assert agree()["users:student"] == 500


@pytest.mark.django_db
def test_folding_moves_deltas_into_totals_and_changes_no_counter():
    StudentFactory(), TeacherFactory(), PackageFactory()
    before = agree()
    assert kpi_counters.counters_fold() > 0
    assert KpiCounterDelta.objects.count() == 0
    assert agree() == before
    assert {t.metric for t in KpiCounterTotal.objects.all()} >= {"users:student", "users:teacher", "packages:active"}
    assert kpi_counters.counters_fold() == 0  # nothing pending


@pytest.mark.django_db
def test_rebuild_repairs_drifted_counters():
    StudentFactory()
    KpiCounterDelta.objects.create(metric="users:student", delta=41)  # as after a TRUNCATE by hand
    assert kpi_counters.counters_read() != kpi_counters.counters_recount()
    kpi_counters.counters_rebuild()
    agree()
    assert KpiCounterDelta.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_and_folds_keep_the_counters_exact():
    teacher, admin = TeacherFactory(), AdminFactory()
    students = [StudentFactory() for _ in range(8)]
    packages = [PackageFactory(student=s, lessons_total=5, lessons_left=5) for s in students]
    slots = [future_slot(hours=72 + i, teacher=teacher) for i in range(8)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(9)

    def book(student, package, own_slot, contested_slot):
        try:
            barrier.wait()
            booking = booking_hold(student=student, slot_id=own_slot.pk, package_id=package.pk)
            booking_confirm(actor=student, booking_id=booking.pk)
            booking_cancel(actor=admin, booking_id=booking.pk)
            try:
                booking_hold(student=student, slot_id=contested_slot.pk, package_id=package.pk)
            except Exception:  # the contested slot: one student wins
                pass
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def fold():
        try:
            barrier.wait()
            for _ in range(20):
                kpi_counters.counters_fold()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    own_slots = [*slots[1:], future_slot(hours=200, teacher=teacher)]
    threads = [
        threading.Thread(target=book, args=(student, package, own, slots[0]))
        for student, package, own in zip(students, packages, own_slots, strict=True)
    ]
    threads.append(threading.Thread(target=fold))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    counters = agree()
    assert counters["bookings:canceled"] == 8
    assert counters["bookings:hold"] == 1


@pytest.mark.django_db
def test_the_command_folds_checks_and_rebuilds():
    StudentFactory()
    out = StringIO()
    call_command("compact_kpi_counters", stdout=out)
    assert out.getvalue().startswith("Folded ")
    call_command("compact_kpi_counters", "--check", stdout=out)
    assert "agree with a recount" in out.getvalue()
    KpiCounterDelta.objects.create(metric="users:student", delta=3)
    with pytest.raises(CommandError, match="differ from a recount"):
        call_command("compact_kpi_counters", "--check", stdout=out)
    call_command("compact_kpi_counters", "--rebuild", stdout=out)
    assert "Rebuilt" in out.getvalue()
    agree()
