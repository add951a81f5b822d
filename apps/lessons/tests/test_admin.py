import pytest
from django.test import Client

from apps.audit.models import AuditLog
from apps.identity.tests.factories import AdminFactory
from apps.lessons.tests.factories import make_lesson

pytestmark = pytest.mark.django_db


def test_admin_edits_topic_and_notes_through_the_service():
    admin = AdminFactory()
    client = Client()
    client.force_login(admin)
    lesson = make_lesson()
    url = f"/admin/lessons/lesson/{lesson.pk}/change/"
    assert client.get(url).status_code == 200

    response = client.post(url, {"topic": "Fingerstyle", "notes": "slow practice"})

    assert response.status_code == 302, response.content[:2000]
    lesson.refresh_from_db()
    assert (lesson.topic, lesson.notes, lesson.status) == ("Fingerstyle", "slow practice", "scheduled")
    log = AuditLog.objects.get(action="lessons.lesson.update", entity_id=lesson.pk)
    assert log.actor_id == admin.pk
    assert log.payload["changes"]["topic"] == [None, "Fingerstyle"]
    assert client.get("/admin/lessons/lesson/", {"status__exact": "scheduled"}).status_code == 200
