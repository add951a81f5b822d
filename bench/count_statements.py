"""SQL statements per request, for `make bench` (its `statements_per_request` scenario).

    python bench/count_statements.py STUDENT_EMAIL PACKAGE_ID SLOT_ID

Runs, in this process and against the database and cache the environment
names (bench/run.py passes the bench's), one request of each: hold SLOT_ID
with PACKAGE_ID, confirm it, cancel it (a confirmed booking, by its student),
then the student's booking list twice (after a write the first read computes
the page; the second is a cache hit). Each request goes through Django's
whole stack (middleware, authentication, DRF) with the test client; its
statements are counted with `CaptureQueriesContext`, which on PostgreSQL also
records BEGIN and COMMIT, so the counts are the statements PostgreSQL
receives for that request. Prints one JSON object.

pg_stat_statements would count the server side too, but needs a server
restart to load; this count is the same on any PostgreSQL.
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guitaronline.settings")


def main(email: str, package_id: str, slot_id: str) -> dict:
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from rest_framework_simplejwt.tokens import AccessToken

    from apps.identity.models import User

    student = User.objects.get(email=email)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(student)}", HTTP_HOST="127.0.0.1")

    def count(method: str, path: str, body: dict | None = None, expect: int = 200) -> tuple[int, dict]:
        with CaptureQueriesContext(connection) as captured:
            response = client.generic(method, path, json.dumps(body or {}), content_type="application/json")
        if response.status_code != expect:
            raise SystemExit(f"{method} {path} -> {response.status_code}: {response.content[:300]!r}")
        return len(captured.captured_queries), response.json()

    client.get("/api/v1/booking/my")  # connect, load what a first request loads
    hold_n, booking = count("POST", "/api/v1/booking/hold", {"slot_id": slot_id, "package_id": package_id}, 201)
    confirm_n, _ = count("POST", f"/api/v1/booking/{booking['id']}/confirm")
    cancel_n, _ = count("POST", f"/api/v1/booking/{booking['id']}/cancel", {"reason": "bench"})
    miss_n, _ = count("GET", "/api/v1/booking/my?limit=20")
    hit_n, _ = count("GET", "/api/v1/booking/my?limit=20")
    return {"hold": hold_n, "confirm": confirm_n, "cancel": cancel_n, "my_bookings_miss": miss_n, "my_bookings": hit_n}


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))
