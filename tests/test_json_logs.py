"""LOG_FORMAT=json: one JSON object per line from a real `manage.py` process (SPEC §8.6).

The outbox worker is run once over a good event and an event whose payload
lacks its recipient; its stderr must parse line by line, and the failure line
must name the event's id and type. (The API's lines under gunicorn are checked
in tests/test_metrics_gunicorn.py.)
"""

import json
import subprocess
import sys

import pytest

from apps.audit.models import OutboxEvent
from apps.identity.tests.factories import StudentFactory
from apps.notifications.tests.factories import contract_event
from tests.process_helpers import BASE_DIR, child_env, require_postgresql

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    require_postgresql()


def _events() -> tuple[OutboxEvent, OutboxEvent]:
    student = StudentFactory()
    good = contract_event("booking.confirmed", student=student)
    bad = contract_event("booking.canceled", student=student)
    OutboxEvent.objects.filter(pk=bad.pk).update(payload={"booking_id": "no recipients here"})
    return good, bad


def _run_worker(**env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "run_outbox_worker", "--batch-size", "10"],
        cwd=BASE_DIR,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_worker_logs_one_json_object_per_line_with_the_failed_event(tmp_path):
    good, bad = _events()

    result = _run_worker(LOG_FORMAT="json")

    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines, "the worker logged nothing"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(record, dict) for record in records)
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= set(record), record
        assert record["request_id"] == "-"  # not inside a request
    failures = [record for record in records if record.get("event_id") == str(bad.pk)]
    assert len(failures) == 1, records
    assert failures[0]["event_type"] == "booking.canceled"
    assert failures[0]["level"] == "WARNING" and failures[0]["logger"] == "apps.notifications.worker"
    assert "payload has no student_id" in failures[0]["message"]
    cycle = [record for record in records if record["message"].startswith("outbox cycle ")]
    assert cycle and "processed=1 failed=1" in cycle[0]["message"], records
    assert not any(record.get("event_id") == str(good.pk) for record in records)
    assert OutboxEvent.objects.get(pk=bad.pk).status == OutboxEvent.Status.FAILED


def test_worker_logs_plain_text_by_default():
    _, bad = _events()

    result = _run_worker()

    assert result.returncode == 0, result.stderr
    failure = [line for line in result.stderr.splitlines() if str(bad.pk) in line]
    assert len(failure) == 1, result.stderr
    assert " WARNING apps.notifications.worker [-] outbox event " in failure[0]
    assert f"{bad.pk} (booking.canceled) failed: PayloadError: payload has no student_id" in failure[0]
    assert not failure[0].startswith("{")


def test_an_unknown_log_format_refuses_to_start():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=child_env(LOG_FORMAT="xml"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "LOG_FORMAT must be plain or json" in result.stderr
