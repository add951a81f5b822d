import pytest

from apps.audit.models import AuditLog
from apps.booking.tests.factories import future_slot
from apps.identity.tests.factories import AdminFactory, StudentFactory, TeacherFactory
from apps.lessons import errors
from apps.lessons.models import Lesson
from apps.lessons.services import LESSON_TRANSITIONS, lesson_update
from apps.lessons.tests.factories import make_lesson

pytestmark = pytest.mark.django_db


def test_transition_table():
    assert LESSON_TRANSITIONS == {
        "scheduled": {"completed", "no_show", "canceled"},
        "completed": set(),
        "canceled": set(),
        "no_show": set(),
    }


@pytest.mark.parametrize("target", ["completed", "no_show"])
def test_teacher_finishes_a_started_lesson(clock, target):
    lesson = make_lesson(slot=future_slot(hours=2))
    clock.advance(hours=2)
    updated = lesson_update(actor=lesson.teacher, lesson_id=lesson.pk, data={"status": target, "topic": "Chords"})
    updated.refresh_from_db()
    assert (updated.status, updated.topic) == (target, "Chords")
    log = AuditLog.objects.get(action="lessons.lesson.update")
    assert log.payload == {"changes": {"status": ["scheduled", target], "topic": [None, "Chords"]}}
    assert log.actor_id == lesson.teacher_id


def test_status_move_before_the_start_is_refused(snapshot):
    lesson = make_lesson(slot=future_slot(hours=2))
    before = snapshot(lesson)
    with pytest.raises(errors.LessonNotStarted):
        lesson_update(actor=lesson.teacher, lesson_id=lesson.pk, data={"status": "completed", "notes": "x"})
    assert snapshot(lesson) == before


@pytest.mark.parametrize(
    ("start", "target"),
    [
        ("scheduled", "canceled"),
        ("completed", "no_show"),
        ("completed", "scheduled"),
        ("no_show", "completed"),
        ("canceled", "completed"),
    ],
)
def test_other_moves_are_refused(clock, snapshot, start, target):
    lesson = make_lesson(slot=future_slot(hours=1))
    Lesson.objects.filter(pk=lesson.pk).update(status=start)
    clock.advance(hours=2)
    before = snapshot(lesson)
    with pytest.raises(errors.LessonTransitionNotAllowed):
        lesson_update(actor=AdminFactory(), lesson_id=lesson.pk, data={"status": target})
    assert snapshot(lesson) == before


def test_only_admin_or_the_teacher_may_update(snapshot):
    lesson = make_lesson()
    before = snapshot(lesson)
    for actor in (lesson.student, StudentFactory(), TeacherFactory()):
        with pytest.raises(errors.LessonAccessDenied):
            lesson_update(actor=actor, lesson_id=lesson.pk, data={"topic": "x"})
    assert snapshot(lesson) == before
    updated = lesson_update(actor=AdminFactory(), lesson_id=lesson.pk, data={"notes": "bring a capo"})
    assert updated.notes == "bring a capo"


def test_an_update_that_changes_nothing_writes_no_audit():
    lesson = make_lesson()
    lesson_update(actor=lesson.teacher, lesson_id=lesson.pk, data={"status": "scheduled", "topic": None})
    assert not AuditLog.objects.filter(action="lessons.lesson.update").exists()
