"""Identity writes: registration, login, token rotation and revocation, and the people staff manage.

Token issue vs deactivation: deactivating a user locks the user's row FOR
UPDATE; issuing a token (login, refresh) first takes FOR KEY SHARE on the same
row and only then reads `is_active`. The two modes conflict, so a login or
refresh racing a deactivation either finishes first (and its token is revoked
with the others) or waits and is refused; never a live token for a
deactivated user. (FOR KEY SHARE conflicts with nothing else: not with other
logins, nor with the FOR NO KEY UPDATE other writers take on users.)
"""

import uuid
from dataclasses import dataclass

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
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
    SelfAdministrationRefused,
    UserNotFound,
)
from apps.identity.models import Role, User, validate_timezone
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


def user_register(
    *, email: str, password: str, timezone: str = "UTC", role: str = Role.STUDENT, full_name: str = ""
) -> User:
    """Create a student or teacher account.

    Admins cannot self-register (they come from `createsuperuser` or the admin
    site). The email is stored lower-case; a case-insensitive duplicate is a
    409, also when two registrations race (the database constraint decides).
    """
    if role not in SELF_REGISTER_ROLES:
        raise InvalidInput(details={"role": ["Must be student or teacher."]})
    email = _normalize_email(email)
    candidate = User(email=email, role=role, timezone=timezone, full_name=full_name)
    try:
        password_validation.validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise PasswordRejected(details={"password": list(exc.messages)}) from None
    if user_find_by_email(email=email) is not None:
        raise EmailAlreadyRegistered()
    try:
        with transaction.atomic():
            user = User.objects.create_user(
                email=email, password=password, role=role, timezone=timezone, full_name=full_name
            )
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
        set_lock_timeout()
        # Read is_active again under the lock a deactivation in flight holds (see the module docstring).
        if not _user_is_active_for_token_issue(user_id=user.pk):
            raise InvalidCredentials()
        return token_pair_issue(user=user)


def _user_is_active_for_token_issue(*, user_id) -> bool:
    """Whether the user exists and is active, read under FOR KEY SHARE on PostgreSQL (in a transaction).

    Django's ORM has no FOR KEY SHARE; FOR UPDATE here would serialize every
    login of one user and block inserts that reference the user.
    """
    table = connection.ops.quote_name(User._meta.db_table)
    lock = " FOR KEY SHARE" if connection.vendor == "postgresql" else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT is_active FROM {table} WHERE id = %s{lock}", [_user_id_param(user_id)])
        row = cursor.fetchone()
    return bool(row and row[0])


def _user_id_param(user_id):
    """A user id as the database stores it (a uuid on PostgreSQL, 32 hex characters on SQLite), for raw SQL."""
    return User._meta.pk.get_db_prep_value(user_id, connection)


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
    try:
        user_id = uuid.UUID(str(token.get(jwt_settings.USER_ID_CLAIM)))
    except ValueError:
        raise InvalidRefreshToken() from None
    # Before the token row: a deactivation in flight finishes first, so the checks below see it.
    _user_is_active_for_token_issue(user_id=user_id)
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


def _refuse_self(*, actor: User, user: User, message: str) -> None:
    if actor is not None and actor.pk == user.pk:
        raise SelfAdministrationRefused(message)


def user_update(*, user: User, full_name: str | None = None, timezone: str | None = None) -> User:
    """Change the caller's own name and time zone (`PATCH /users/me`); nothing else about them.

    Only values that differ are written, with one audit row `identity.user.update`
    naming them; asking for the current values writes nothing. The time zone
    must be an IANA name (400).
    """
    if timezone is not None:
        try:
            validate_timezone(timezone)
        except DjangoValidationError as exc:
            raise InvalidInput(details={"timezone": list(exc.messages)}) from None
    requested = {"full_name": full_name, "timezone": timezone}
    with transaction.atomic():
        set_lock_timeout()
        locked = user_lock(user_id=user.pk)
        if locked is None:
            raise UserNotFound()
        changes = {
            field: value for field, value in requested.items() if value is not None and getattr(locked, field) != value
        }
        if not changes:
            return locked
        previous = {field: getattr(locked, field) for field in changes}
        for field, value in changes.items():
            setattr(locked, field, value)
        locked.save(update_fields=[*changes, "updated_at"])
        audit_log_record(
            actor=locked,
            action="identity.user.update",
            entity_type="user",
            entity_id=locked.pk,
            payload={"changed": changes, "previous": previous},
        )
    return locked


def user_role_set(*, actor: User, user: User, role: str) -> User:
    """Give a user another role, with its audit row `identity.user.role.update`.

    The caller holds the user's row lock (`user_lock`) in its transaction and has
    already applied the rules identity cannot see (apps.admin_ops.services.user_role_change:
    a teacher who still teaches keeps the role). Here: an admin may not change
    their own role (422, whatever the value); the same role writes nothing.
    The staff flag follows the role, as `create_user` sets it: becoming admin
    sets `is_staff`; leaving admin clears `is_staff` and `is_superuser`, so a
    former admin keeps no way into the Django admin.
    """
    if role not in Role.values:
        raise InvalidInput(details={"role": [f"Must be one of {', '.join(Role.values)}."]})
    _refuse_self(actor=actor, user=user, message="You cannot change your own role.")
    if user.role == role:
        return user
    previous = user.role
    user.role = role
    user.is_staff = role == Role.ADMIN
    if role != Role.ADMIN:
        user.is_superuser = False
    user.save(update_fields=["role", "is_staff", "is_superuser", "updated_at"])
    audit_log_record(
        actor=actor,
        action="identity.user.role.update",
        entity_type="user",
        entity_id=user.pk,
        payload={"role": role, "previous": previous},
    )
    return user


def _refresh_tokens_revoke_all(*, user_id) -> int:
    """Blacklist every unexpired, not yet revoked refresh token of the user in one statement; returns how many.

    Runs while the user's row is locked FOR UPDATE: a token insert references
    the user (its foreign-key check takes FOR KEY SHARE), so no new token can
    appear until this transaction ends, and the ones being issued right now have
    committed before the lock was granted. A token a concurrent logout is
    revoking at this moment is skipped (ON CONFLICT DO NOTHING), not an error.
    """
    blacklisted, outstanding = BlacklistedToken._meta, OutstandingToken._meta
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(blacklisted.db_table)} (token_id, blacklisted_at) "
        f"SELECT o.id, %s FROM {quote(outstanding.db_table)} o "
        f"WHERE o.user_id = %s AND o.expires_at > %s "
        f"AND NOT EXISTS (SELECT 1 FROM {quote(blacklisted.db_table)} b WHERE b.token_id = o.id) "
        "ON CONFLICT (token_id) DO NOTHING"
    )
    now = connection.ops.adapt_datetimefield_value(clock.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, [now, _user_id_param(user_id), now])
        return cursor.rowcount


def user_set_active(*, actor: User, user_id, is_active: bool) -> User:
    """Activate or deactivate someone else's account (admin API and Django admin action).

    Unknown user 404; yourself 422 (whatever the value); already in that state:
    200, nothing written. Deactivating revokes every refresh token of the user
    in the same transaction as the flag (so a later reactivation brings no old
    session back), race-free against a login or refresh in flight (see the
    module docstring); access tokens stop working at once because
    authentication refuses inactive users. Audit `identity.user.deactivate` /
    `identity.user.activate`.
    """
    with transaction.atomic():
        set_lock_timeout()
        # FOR UPDATE, not the NO KEY UPDATE of user_lock: it must conflict with the FOR KEY SHARE of token issue.
        user = one_or_none(User.objects.select_for_update().filter(pk=user_id))
        if user is None:
            raise UserNotFound()
        _refuse_self(
            actor=actor,
            user=user,
            message="You cannot deactivate yourself." if not is_active else "You cannot activate yourself.",
        )
        if user.is_active == is_active:
            return user
        user.is_active = is_active
        user.save(update_fields=["is_active", "updated_at"])
        payload: dict = {"is_active": is_active}
        if not is_active:
            payload["revoked_refresh_tokens"] = _refresh_tokens_revoke_all(user_id=user.pk)
        audit_log_record(
            actor=actor,
            action="identity.user.activate" if is_active else "identity.user.deactivate",
            entity_type="user",
            entity_id=user.pk,
            payload=payload,
        )
    return user


def user_lock(*, user_id) -> User | None:
    """Lock a user row for the rest of the transaction (None if unknown), to serialize writes per user.

    FOR NO KEY UPDATE: it does not block other transactions inserting rows that
    reference the user (bookings, slots), so it cannot deadlock with them.
    """
    return one_or_none(User.objects.select_for_update(no_key=True).filter(pk=user_id))
