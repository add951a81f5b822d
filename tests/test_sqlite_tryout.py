"""`make run`'s database: the embedded SQLite file a newcomer tries the app on.

The suite runs on PostgreSQL; this test runs the try-out path in a child process
on a throwaway SQLite file: every migration, the demo school (which books,
confirms, cancels and expires through the services), and a student's hold,
confirm, reschedule and cancel through the API, so SQLite-only breakage (the
hot path's plain SQL, converters, RETURNING) fails here, not in a newcomer's hands.
"""

import json
import subprocess
import sys

from tests.process_helpers import BASE_DIR, child_env

SCRIPT = r"""
import json, django
django.setup()
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
call_command("seed_demo_data", stdout=open("/dev/null", "w"))
client = Client()
login = client.post("/api/v1/identity/auth/login", {"email": "student1@guitaronline.local",
                    "password": "guitar-demo-pass"}, content_type="application/json")
auth = {"HTTP_AUTHORIZATION": "Bearer " + login.json()["access_token"]}
me = client.get("/api/v1/identity/users/me", **auth).json()
package = client.get(f"/api/v1/billing/packages/students/{me['id']}", **auth).json()["items"][0]["id"]
first, second = client.get("/api/v1/scheduling/slots/open?limit=2").json()["items"]
hold = client.post("/api/v1/booking/hold", {"slot_id": first["id"], "package_id": package},
                   content_type="application/json", **auth)
booking = hold.json()["id"]
confirm = client.post(f"/api/v1/booking/{booking}/confirm", content_type="application/json", **auth)
moved = client.post(f"/api/v1/booking/{booking}/reschedule", {"new_slot_id": second["id"]},
                    content_type="application/json", **auth)
cancel = client.post(f"/api/v1/booking/{moved.json()['id']}/cancel", {}, content_type="application/json", **auth)
kpi_login = client.post("/api/v1/identity/auth/login", {"email": "admin@guitaronline.local",
                        "password": "guitar-admin-demo"}, content_type="application/json")
kpi = client.get("/api/v1/admin/kpi/overview", HTTP_AUTHORIZATION="Bearer " + kpi_login.json()["access_token"])
print(json.dumps({"statuses": [login.status_code, hold.status_code, confirm.status_code, moved.status_code,
                               cancel.status_code, kpi.status_code],
                  "booking_status": cancel.json()["status"], "bookings_total": kpi.json()["bookings_total"]}))
"""


def test_the_try_out_database_runs_the_demo_school_and_a_booking(tmp_path):
    env = child_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'tryout.sqlite3'}",
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="guitaronline.settings",
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-4000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["statuses"] == [200, 201, 200, 200, 200, 200], result.stderr[-4000:]
    assert outcome["booking_status"] == "canceled"
    assert outcome["bookings_total"] >= 7  # the demo's five, plus this test's two
