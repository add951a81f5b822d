"""Identity writes: registration, login, token rotation and revocation."""

from dataclasses import dataclass

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.audit.services import audit_log_record
from apps.common import clock
from apps.common.errors import InvalidInput
from apps.common.locking import set_lock_timeout
from apps.common.queries import one_or_none
from apps.identity.errors import (
    EmailAlreadyRegistered,
    InvalidCredentials,
    InvalidRefreshToken,
    PasswordRejected,
)
from apps.identity.models import Role, User
from apps.identity.selectors import user_find_by_email

SELF_REGISTER_ROLES = (Role.STUDENT, Role.TEACHER)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    token_type: str = "bearer"


def _normalize_email(email: str) -> str:
    return email.strip().lower()


def token_pair_issue(*, user: User) -> TokenPair:
    """A fresh access + refresh pair; the refresh token is recorded as outstanding so it can be revoked."""
    refresh = RefreshToken.for_user(user)
    return TokenPair(access_token=str(refresh.access_token), refresh_token=str(refresh))


def user_register(*, email: str, password: str, timezone: str = "UTC", role: str = Role.STUDENT) -> User:
    """Create a student or teacher account.

    Admins cannot self-register (they come from `createsuperuser` or the admin
    site). The email is stored lower-case; a case-insensitive duplicate is a
    409, also when two registrations race (the database constraint decides).
    """
    if role not in SELF_REGISTER_ROLES:
        raise InvalidInput(details={"role": ["Must be student or teacher."]})
    email = _normalize_email(email)
    candidate = User(email=email, role=role, timezone=timezone)
    try:
        password_validation.validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise PasswordRejected(details={"password": list(exc.messages)}) from None
    if user_find_by_email(email=email) is not None:
        raise EmailAlreadyRegistered()
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=email, password=password, role=role, timezone=timezone)
            audit_log_record(
                actor=user,
                action="identity.user.register",
                entity_type="user",
                entity_id=user.pk,
                payload={"role": role},
            )
    except IntegrityError:
        raise EmailAlreadyRegistered() from None
    return user


def auth_login(*, email: str, password: str) -> TokenPair:
    """Check credentials and issue a token pair.

    Unknown email, wrong password and inactive account all raise the same
    InvalidCredentials, and each path runs the password hasher once so the
    answer time does not tell which it was.
    """
    user = user_find_by_email(email=email)
    if user is None:
        # Hash anyway: an unknown email must cost as much as a wrong password.
        User().set_password(password)
        raise InvalidCredentials()
    password_ok = user.check_password(password)
    if not password_ok or not user.is_active:
        raise InvalidCredentials()
    with transaction.atomic():
        return token_pair_issue(user=user)


def _decode_refresh_token(raw: str) -> RefreshToken:
    """Signature, expiry and type (`refresh`, not `access`) checked; anything wrong is 401."""
    try:
        return RefreshToken(raw)
    except TokenError:
        raise InvalidRefreshToken() from None


def _lock_outstanding(token: RefreshToken, *, require_active_user: bool = True) -> OutstandingToken:
    """Lock the token's outstanding row and refuse it if revoked, expired or not ours.

    Must run inside transaction.atomic(): the row lock is what serializes two
    requests presenting the same refresh token.
    """
    set_lock_timeout()
    outstanding = (
        OutstandingToken.objects.select_for_update(of=("self",))
        .filter(jti=token[jwt_settings.JTI_CLAIM])
        .select_related("user")
        .first()
    )
    if outstanding is None:
        # Every token we issue is recorded; an unknown jti was not issued here.
        raise InvalidRefreshToken()
    if BlacklistedToken.objects.filter(token=outstanding).exists():
        raise InvalidRefreshToken()
    if outstanding.expires_at <= clock.now():
        raise InvalidRefreshToken()
    user = outstanding.user
    if user is None or str(user.pk) != str(token.get(jwt_settings.USER_ID_CLAIM)):
        raise InvalidRefreshToken()
    if require_active_user and not user.is_active:
        raise InvalidRefreshToken()
    return outstanding


def auth_refresh(*, refresh_token: str) -> TokenPair:
    """Rotate a refresh token: revoke the presented one and issue a new pair.

    Race-free: the outstanding-token row is locked, so of two concurrent
    refreshes with the same token exactly one succeeds; the other finds it
    revoked (401).
    """
    token = _decode_refresh_token(refresh_token)
    try:
        with transaction.atomic():
            outstanding = _lock_outstanding(token)
            BlacklistedToken.objects.create(token=outstanding)
            return token_pair_issue(user=outstanding.user)
    except IntegrityError:
        # Blacklisted by a concurrent request between our check and insert.
        raise InvalidRefreshToken() from None


def auth_logout(*, refresh_token: str) -> None:
    """Revoke a refresh token. Its access tokens expire on their own (short lifetime)."""
    token = _decode_refresh_token(refresh_token)
    try:
        with transaction.atomic():
            # Revoking is always safe, so a deactivated user may still log out.
            outstanding = _lock_outstanding(token, require_active_user=False)
            BlacklistedToken.objects.create(token=outstanding)
    except IntegrityError:
        raise InvalidRefreshToken() from None


def user_set_active(*, user: User, is_active: bool, actor: User | None = None) -> User:
    """Activate or deactivate an account (admin site action).

    Deactivating revokes every outstanding refresh token of the user, so a
    later reactivation does not bring old sessions back; access tokens stop
    working at once because authentication checks `is_active`.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_active == is_active:
            return user
        user.is_active = is_active
        user.save(update_fields=["is_active", "updated_at"])
        if not is_active:
            live = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
            BlacklistedToken.objects.bulk_create(
                [BlacklistedToken(token=token) for token in live], ignore_conflicts=True
            )
        audit_log_record(
            actor=actor,
            action="identity.user.activate" if is_active else "identity.user.deactivate",
            entity_type="user",
            entity_id=user.pk,
            payload={"is_active": is_active},
        )
    return user


def user_lock(*, user_id) -> User | None:
    """Lock a user row for the rest of the transaction (None if unknown), to serialize writes per user.

    FOR NO KEY UPDATE: it does not block other transactions inserting rows that
    reference the user (bookings, slots), so it cannot deadlock with them.
    """
    return one_or_none(User.objects.select_for_update(no_key=True).filter(pk=user_id))
