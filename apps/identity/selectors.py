"""Reads of users; other apps find users through these, never through the model directly."""

from uuid import UUID

from apps.common.queries import one_or_none
from apps.identity.models import User


def user_get(*, user_id: UUID | str) -> User | None:
    """The user with this id, or None."""
    return one_or_none(User.objects.filter(pk=user_id))


def user_find_by_email(*, email: str) -> User | None:
    """The user whose email matches case-insensitively, or None."""
    return one_or_none(User.objects.filter(email__iexact=email.strip()))
