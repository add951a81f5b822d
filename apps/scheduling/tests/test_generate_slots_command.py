"""`python manage.py generate_slots --weeks N` (SPEC §8.3): cron's run over every approved teacher's schedule."""

import io
import re
import tempfile
import zoneinfo
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from apps.audit.models import AuditLog
from apps.common import clock as clock_module
from apps.identity.services import user_lock
from apps.identity.tests.factories import TeacherFactory
from apps.scheduling.models import AvailabilitySlot
from apps.scheduling.schedule_times import Window, minutes_of, slot_times
from apps.scheduling.tests.factories import make_schedule
from apps.scheduling.tests.test_concurrency import _backends_waiting_on_a_lock, _overlapping_pairs
from apps.teachers.tests.factories import TeacherProfileFactory
from tests.process_helpers import child_env, kill_group, manage_py, require_postgresql, tail, wait_for

OUTPUT = re.compile(
    r"Generated slots for (\d+) teacher\(s\): created (\d+), skipped_existing (\d+), skipped_past (\d+)\."
)


def run(*args) -> tuple[int, int, int, int]:
    out = io.StringIO()
    call_command("generate_slots", *args, stdout=out)
    match = OUTPUT.search(out.getvalue())
    assert match, out.getvalue()
    return tuple(int(n) for n in match.groups())


def pin(clock, when: str) -> None:
    clock.advance(seconds=(datetime.fromisoformat(when) - clock.now()).total_seconds())


@pytest.mark.django_db
def test_every_approved_active_teacher_with_a_schedule_gets_n_weeks_from_their_today(clock):
    pin(clock, "2027-03-01T12:30:00+00:00")  # Monday; already Tuesday in Kiritimati (UTC+14)
    berlin, kiritimati = TeacherFactory(), TeacherFactory()
    make_schedule(berlin, windows=[(0, "09:00", "12:00")], timezone="Europe/Berlin")
    make_schedule(kiritimati, windows=[(0, "09:00", "10:00"), (1, "09:00", "10:00")], timezone="Pacific/Kiritimati")
    unapproved, inactive, no_schedule = TeacherFactory(), TeacherFactory(is_active=False), TeacherFactory()
    TeacherProfileFactory(user=unapproved, is_approved=False)
    make_schedule(unapproved, approved=False)
    make_schedule(inactive)
    TeacherProfileFactory(user=no_schedule)

    assert run("--weeks", "2") == (2, 3 + 4, 0, 3)

    # Berlin: Mondays 1 and 8 March, 09:00-12:00 CET, but 1 March's three slots had started (12:30 UTC)
    assert AvailabilitySlot.objects.filter(teacher=berlin).count() == 3
    # Kiritimati's today is Tuesday 2 March: two weeks to Monday 15 March, Tuesdays 2 and 9 and Mondays 8 and 15;
    # Tuesday 2 March 09:00 (+14) is 1 March 19:00 UTC: still ahead
    starts = sorted(AvailabilitySlot.objects.filter(teacher=kiritimati).values_list("start_at", flat=True))
    local = [s.astimezone(zoneinfo.ZoneInfo("Pacific/Kiritimati")).date().isoformat() for s in starts]
    assert local == ["2027-03-02", "2027-03-08", "2027-03-09", "2027-03-15"]
    assert not AvailabilitySlot.objects.filter(teacher__in=[unapproved, inactive, no_schedule]).exists()
    assert set(AvailabilitySlot.objects.values_list("created_by_admin_id", flat=True)) == {None}
    assert AuditLog.objects.filter(action="scheduling.slots.generate", actor=None).count() == 2

    assert run("--weeks", "2") == (2, 0, 7, 3)  # idempotent


@pytest.mark.django_db
def test_weeks_defaults_to_four_and_is_bounded(clock):
    pin(clock, "2027-03-01T00:00:00+00:00")
    make_schedule(TeacherFactory(), windows=[(d, "09:00", "10:00") for d in range(7)])
    assert run() == (1, 28, 0, 0)
    for weeks in ("0", "14"):
        with pytest.raises(CommandError, match="--weeks"):
            call_command("generate_slots", "--weeks", weeks, stdout=io.StringIO())


# --- two real processes at once ----------------------------------------------------------------


def _windows_away_from_now(zone: zoneinfo.ZoneInfo) -> list[tuple[int, str, str]]:
    """Daily windows starting two hours after the local hour now, so no slot starts while the test runs."""
    hour = (datetime.now(zone).hour + 2) % 24
    end = min(hour * 60 + 240, 1440)
    return [(d, f"{hour:02d}:00", "24:00" if end == 1440 else f"{end // 60:02d}:00") for d in range(7)]


@pytest.mark.django_db(transaction=True)
def test_two_copies_at_once_create_each_slot_once():
    require_postgresql()
    zones = ["UTC", "Europe/Berlin", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "America/New_York"]
    expected = 0
    teachers = []
    for name in zones * 2:  # 12 teachers
        zone = zoneinfo.ZoneInfo(name)
        teacher = TeacherFactory()
        windows = _windows_away_from_now(zone)
        make_schedule(teacher, windows=windows, timezone=name, slot_minutes=30)
        teachers.append(teacher)
        today = datetime.now(zone).date()
        expected += sum(
            1
            for start, _ in slot_times(
                windows=[Window(d, minutes_of(s), minutes_of(e, end=True)) for d, s, e in windows],
                timezone=name,
                slot_minutes=30,
                from_date=today,
                to_date=today + timedelta(days=13),
            )
            if start > clock_module.now()
        )

    with tempfile.TemporaryDirectory(prefix="go-generate-") as tmp:
        logs = [Path(tmp) / f"copy{i}.log" for i in range(2)]
        try:
            # Hold the first teacher's row lock until both copies are queued behind it: they then surely run
            # side by side (each waits at most the 5 s lock timeout, so release as soon as both wait).
            with transaction.atomic():
                user_lock(user_id=min(t.pk for t in teachers))
                copies = [manage_py("generate_slots", "--weeks", "2", env=child_env(), log=log) for log in logs]
                both_waited = wait_for(lambda: _backends_waiting_on_a_lock() == 2, timeout=60, interval=0.02)
            codes = [copy.wait(timeout=120) for copy in copies]
        finally:
            for copy in copies:
                kill_group(copy)
        outputs = [tail(log) for log in logs]

    assert both_waited, outputs

    assert codes == [0, 0], outputs
    results = [tuple(int(n) for n in OUTPUT.search(text).groups()) for text in outputs]
    assert [r[0] for r in results] == [12, 12], outputs
    created = sum(r[1] for r in results)
    assert created == expected, outputs
    assert all(r[1] + r[2] == expected for r in results), outputs  # each copy saw every slot: made or found
    assert AvailabilitySlot.objects.filter(teacher__in=teachers).count() == expected
    assert all(_overlapping_pairs(t) == 0 for t in teachers)
    assert "Traceback" not in "".join(outputs)
