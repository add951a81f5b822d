"""Writes on lesson packages and payments.

The package counter functions are what booking calls; each takes a package
row the caller has already locked (`package_lock`) and relies on the
`packages_counters_consistent` check constraint as the last line of defence.
"""

from django.db.models import F

from apps.billing.models import LessonPackage
from apps.common import clock
from apps.common.locking import lock_one


def package_lock(*, package_id) -> LessonPackage | None:
    """Lock one package row for the rest of the transaction (None if it does not exist)."""
    return lock_one(LessonPackage.objects.all(), package_id)


def _apply_counters(package: LessonPackage, **deltas: int) -> LessonPackage:
    LessonPackage.objects.filter(pk=package.pk).update(
        updated_at=clock.now(), **{field: F(field) + delta for field, delta in deltas.items()}
    )
    package.refresh_from_db(fields=["lessons_left", "lessons_reserved", "updated_at"])
    return package


def package_reserve_lesson(*, package: LessonPackage) -> LessonPackage:
    """A hold takes one free lesson out of circulation."""
    return _apply_counters(package, lessons_reserved=+1)


def package_release_lesson(*, package: LessonPackage) -> LessonPackage:
    """A hold canceled or expired gives its reserved lesson back."""
    return _apply_counters(package, lessons_reserved=-1)


def package_consume_lesson(*, package: LessonPackage) -> LessonPackage:
    """A confirmed hold spends its reserved lesson."""
    return _apply_counters(package, lessons_left=-1, lessons_reserved=-1)


def package_refund_lesson(*, package: LessonPackage) -> LessonPackage:
    """A canceled confirmed booking returns its lesson to the package."""
    return _apply_counters(package, lessons_left=+1)
