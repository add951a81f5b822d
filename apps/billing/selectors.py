"""Reads on lesson packages and payments, with who-may-see-what applied."""

from django.db.models import QuerySet

from apps.billing.errors import PackageAccessDenied
from apps.billing.models import LessonPackage, Payment, Plan
from apps.common.errors import Forbidden
from apps.common.page_cache import user_scopes
from apps.identity.models import User

# The page-cache scope of a student's package list (apps/common/page_cache.py): `packages:<student id>`.
PACKAGE_LISTS = "packages"


def package_list_check_access(*, viewer: User, student_id) -> None:
    """Only that student or an admin may see a student's packages (403)."""
    if not (viewer.is_admin or (viewer.is_student and viewer.pk == student_id)):
        raise PackageAccessDenied("You may only see your own packages.")


def package_list_for_student(*, viewer: User, student_id) -> QuerySet[LessonPackage]:
    """A student's packages, newest first; only that student or an admin may look (403)."""
    package_list_check_access(viewer=viewer, student_id=student_id)
    return LessonPackage.objects.filter(student_id=student_id).order_by("-created_at", "-id")


def package_list_scope(*, student_id) -> tuple[str, tuple]:
    """The page-cache scope of `package_list_for_student(student_id=...)`; the page is the same for every viewer."""
    (scope,) = user_scopes(PACKAGE_LISTS, [student_id])
    return scope, (scope,)


def payment_list(*, viewer: User, package_id=None) -> QuerySet[Payment]:
    """Payments newest first: all for an admin, a student's own otherwise (teachers 403).

    A student filtering by another student's package simply gets nothing.
    """
    if viewer.is_admin:
        payments = Payment.objects.all()
    elif viewer.is_student:
        payments = Payment.objects.filter(package__student_id=viewer.pk)
    else:
        raise Forbidden()
    if package_id is not None:
        payments = payments.filter(package_id=package_id)
    return payments.order_by("-created_at", "-id")


def plan_list(*, viewer=None) -> QuerySet[Plan]:
    """The catalog, cheapest first (then by name): active plans for everyone, every plan for an admin."""
    plans = Plan.objects.all()
    if not (viewer is not None and viewer.is_authenticated and getattr(viewer, "is_admin", False)):
        plans = plans.filter(is_active=True)
    return plans.order_by("price", "name", "id")
