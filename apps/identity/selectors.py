"""Reads of users; other apps find users through these, never through the model directly."""

from uuid import UUID

from django.db.models import Q, QuerySet

from apps.common.queries import one_or_none
from apps.identity.models import User


def user_get(*, user_id: UUID | str) -> User | None:
    """The user with this id, or None."""
    return one_or_none(User.objects.filter(pk=user_id))


def user_find_by_email(*, email: str) -> User | None:
    """The user whose email matches case-insensitively, or None."""
    return one_or_none(User.objects.filter(email__iexact=email.strip()))


def user_list(*, role: str | None = None, is_active: bool | None = None, q: str | None = None) -> QuerySet[User]:
    """Users for staff, newest first; `q` matches email or full name, case-insensitive substring.

    The match is a plain `ILIKE '%q%'` scan (UPPER(...) LIKE on PostgreSQL): a school's user
    table is small enough (see README "Decisions", People) that no trigram index is needed.
    """
    queryset = User.objects.all()
    if role:
        queryset = queryset.filter(role=role)
    if is_active is not None:
        queryset = queryset.filter(is_active=is_active)
    if q:
        queryset = queryset.filter(Q(email__icontains=q) | Q(full_name__icontains=q))
    return queryset.order_by("-created_at", "-id")
