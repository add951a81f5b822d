import threading

import pytest
from django.db import connection

from apps.audit.models import AuditLog
from apps.identity.tests.factories import AdminFactory, TeacherFactory
from apps.teachers.models import TeacherProfile

THREADS = 6


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_for_one_teacher_make_exactly_one_profile(client_for):
    if connection.vendor != "postgresql":
        pytest.skip("real row locks need PostgreSQL")
    admin, teacher = AdminFactory(), TeacherFactory()
    clients = [client_for(admin if i % 2 else teacher) for i in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    lock = threading.Lock()

    def create(client):
        try:
            barrier.wait()
            response = client.post("/api/v1/teachers/profiles", {"user_id": str(teacher.pk), "display_name": "Racer"})
            with lock:
                statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(statuses) == [201] + [409] * (THREADS - 1)
    assert TeacherProfile.objects.filter(user=teacher).count() == 1
    assert AuditLog.objects.filter(action="teachers.profile.create").count() == 1
