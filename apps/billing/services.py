"""Writes on lesson packages and payments.

The package counter functions are what booking calls; each takes a package
row the caller has already locked (`package_lock`) and relies on the
`packages_counters_consistent` check constraint as the last line of defence.

Every other write here runs in one `transaction.atomic()` together with its
audit-log and outbox rows, so a refused or failed write leaves nothing behind.
"""

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from apps.audit.services import audit_log_record, outbox_event_add
from apps.billing.errors import (
    DuplicateExternalReference,
    ExpiryNotInFuture,
    NotAStudent,
    PackageAccessDenied,
    PackageNotFound,
    PackageNotUsable,
    PaymentNotFound,
    PaymentTransitionNotAllowed,
    UnknownPaymentStatus,
)
from apps.billing.models import LessonPackage, PackageStatus, Payment, PaymentStatus
from apps.billing.selectors import PACKAGE_LISTS
from apps.common import clock
from apps.common.errors import InvalidInput
from apps.common.locking import lock_one, set_lock_timeout
from apps.common.page_cache import scopes_changed, user_scopes
from apps.identity.models import Role, User

# Payment status machine: from -> allowed targets. `refunded` is final.
PAYMENT_TRANSITIONS: dict[str, frozenset[str]] = {
    PaymentStatus.PENDING: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED}),
    PaymentStatus.FAILED: frozenset({PaymentStatus.PENDING, PaymentStatus.SUCCEEDED}),
    PaymentStatus.SUCCEEDED: frozenset({PaymentStatus.REFUNDED}),
    PaymentStatus.REFUNDED: frozenset(),
}

# A guitar-lesson package paid in one payment never costs this much; anything
# above is a typo or an attack, refused before it reaches the database.
MAX_PAYMENT_AMOUNT = Decimal("1000000.00")
MAX_LESSONS_PER_PACKAGE = 1000
EXPIRE_BATCH_SIZE = 500

CURRENCY_CODE_RE = re.compile(r"[A-Za-z]{3}")


# --- package counters (used by booking; the caller holds the package lock) ---


def package_lists_changed(*, student_ids) -> None:
    """Call in any transaction that writes package rows: these students' cached package lists are
    recomputed after the commit (apps/common/page_cache.py)."""
    scopes_changed(*user_scopes(PACKAGE_LISTS, student_ids))


def package_lock(*, package_id) -> LessonPackage | None:
    """Lock one package row for the rest of the transaction (None if it does not exist)."""
    return lock_one(LessonPackage.objects.all(), package_id)


def _apply_counters(package: LessonPackage, **deltas: int) -> LessonPackage:
    """Move the counters in the database (its check constraint has the last word), and on the locked row we hold.

    The caller holds the row lock, so the new values are known without reading them back.
    """
    now = clock.now()
    LessonPackage.objects.filter(pk=package.pk).update(
        updated_at=now, **{field: F(field) + delta for field, delta in deltas.items()}
    )
    for field, delta in deltas.items():
        setattr(package, field, getattr(package, field) + delta)
    package.updated_at = now
    package_lists_changed(student_ids=[package.student_id])
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


def package_is_usable(*, package: LessonPackage) -> bool:
    """Active and not yet past expires_at: the package can pay for lessons and take payments."""
    return package.status == PackageStatus.ACTIVE and package.expires_at > clock.now()


# --- packages ---


def _package_event_payload(package: LessonPackage) -> dict:
    return {
        "package_id": str(package.pk),
        "student_id": str(package.student_id),
        "lessons_total": package.lessons_total,
        "lessons_left": package.lessons_left,
        "expires_at": package.expires_at.isoformat(),
        "status": package.status,
    }


def package_create(*, actor: User | None, student_id, lessons_total: int, expires_at: datetime) -> LessonPackage:
    """Sell a student a package of lessons (admin operation).

    The user must exist and be a student, and `expires_at` must lie in the
    future (both 422). Writes audit `billing.package.create` and outbox
    `billing.package.created` in the same transaction.
    """
    if lessons_total < 1 or lessons_total > MAX_LESSONS_PER_PACKAGE:
        raise InvalidInput(details={"lessons_total": [f"Must be between 1 and {MAX_LESSONS_PER_PACKAGE}."]})
    if expires_at <= clock.now():
        raise ExpiryNotInFuture()
    if not User.objects.filter(pk=student_id, role=Role.STUDENT).exists():
        raise NotAStudent()
    with transaction.atomic():
        package = LessonPackage.objects.create(
            student_id=student_id,
            lessons_total=lessons_total,
            lessons_left=lessons_total,
            lessons_reserved=0,
            expires_at=expires_at,
            status=PackageStatus.ACTIVE,
        )
        package_lists_changed(student_ids=[student_id])
        payload = _package_event_payload(package)
        audit_log_record(
            actor=actor, action="billing.package.create", entity_type="package", entity_id=package.pk, payload=payload
        )
        outbox_event_add(
            aggregate_type="package", aggregate_id=package.pk, event_type="billing.package.created", payload=payload
        )
    return package


def _lock_due_packages(*, now: datetime, limit: int) -> list[LessonPackage]:
    """Lock up to `limit` active packages past expires_at, skipping rows another run holds.

    SKIP LOCKED lets an API call and the cron command run side by side: each
    takes the rows the other has not; the status guard in the UPDATE makes a
    row that is expired twice count once.
    """
    due = LessonPackage.objects.filter(status=PackageStatus.ACTIVE, expires_at__lte=now).order_by("expires_at", "pk")
    if connection.features.has_select_for_update_skip_locked:
        due = due.select_for_update(skip_locked=True)
    else:
        due = due.select_for_update()
    return list(due[:limit])


def packages_expire_due(*, actor: User | None = None, batch_size: int = EXPIRE_BATCH_SIZE) -> int:
    """Expire every active package past its expires_at; return how many this call expired.

    Each package gets exactly one audit `billing.package.expire` and one outbox
    `billing.package.expired`, even with concurrent runs. Open holds on an
    expired package are left alone: booking refuses to confirm them (422
    "package expired") and the hold expiry releases their reservation.
    Works in batches, one transaction each, so a big backlog never holds
    thousands of row locks at once.
    """
    expired = 0
    while True:
        with transaction.atomic():
            now = clock.now()
            batch = _lock_due_packages(now=now, limit=batch_size)
            expired_students = []
            for package in batch:
                changed = LessonPackage.objects.filter(pk=package.pk, status=PackageStatus.ACTIVE).update(
                    status=PackageStatus.EXPIRED, updated_at=now
                )
                if not changed:
                    continue
                package.status = PackageStatus.EXPIRED
                package.updated_at = now
                expired_students.append(package.student_id)
                payload = _package_event_payload(package)
                audit_log_record(
                    actor=actor,
                    action="billing.package.expire",
                    entity_type="package",
                    entity_id=package.pk,
                    payload=payload,
                )
                outbox_event_add(
                    aggregate_type="package",
                    aggregate_id=package.pk,
                    event_type="billing.package.expired",
                    payload=payload,
                )
                expired += 1
            package_lists_changed(student_ids=expired_students)
        if len(batch) < batch_size:
            return expired


# --- payments ---


def _normalize_amount(amount) -> Decimal:
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError, TypeError):
        raise InvalidInput(details={"amount": ["A valid number is required."]})
    if not value.is_finite():
        raise InvalidInput(details={"amount": ["A valid number is required."]})
    if value <= 0:
        raise InvalidInput(details={"amount": ["Must be greater than 0."]})
    if value > MAX_PAYMENT_AMOUNT:
        raise InvalidInput(details={"amount": [f"Must be at most {MAX_PAYMENT_AMOUNT}."]})
    if value != value.quantize(Decimal("0.01")):
        raise InvalidInput(details={"amount": ["At most 2 decimal places."]})
    return value.quantize(Decimal("0.01"))


def _normalize_currency(currency) -> str:
    if not isinstance(currency, str) or not CURRENCY_CODE_RE.fullmatch(currency):
        raise InvalidInput(details={"currency": ["Must be a 3-letter currency code, e.g. USD."]})
    return currency.upper()


def _external_reference_taken(reference: str) -> bool:
    return Payment.objects.filter(external_reference=reference).exists()


def _payment_event_payload(payment: Payment, *, student_id, previous_status: str | None = None) -> dict:
    payload = {
        "payment_id": str(payment.pk),
        "package_id": str(payment.package_id),
        "student_id": str(student_id),
        "amount": f"{payment.amount:.2f}",
        "currency": payment.currency,
        "status": payment.status,
    }
    if previous_status is not None:
        payload["previous_status"] = previous_status
    return payload


def payment_create(
    *,
    actor: User,
    package_id,
    amount,
    currency: str = "USD",
    external_reference: str | None = None,
) -> Payment:
    """Record a pending payment for a package.

    Allowed for an admin or the student who owns the package (403). The
    package must exist (404) and be active and unexpired (422); a repeated
    `external_reference` is 409, also when two requests race (the unique
    constraint decides). Audit `billing.payment.create`, outbox
    `billing.payment.created`.
    """
    amount = _normalize_amount(amount)
    currency = _normalize_currency(currency)
    if external_reference is not None:
        external_reference = external_reference.strip() or None
    with transaction.atomic():
        set_lock_timeout()
        # Lock the package (global order: package before payment) so it cannot
        # expire between the check below and the insert.
        package = package_lock(package_id=package_id)
        if package is None:
            raise PackageNotFound()
        if not (actor.is_admin or package.student_id == actor.pk):
            raise PackageAccessDenied()
        if not package_is_usable(package=package):
            raise PackageNotUsable("The package is expired." if package.status == PackageStatus.ACTIVE else None)
        if external_reference is not None and _external_reference_taken(external_reference):
            raise DuplicateExternalReference()
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    package=package,
                    amount=amount,
                    currency=currency,
                    status=PaymentStatus.PENDING,
                    external_reference=external_reference,
                )
        except IntegrityError:
            # Another request inserted the same external_reference after our check.
            raise DuplicateExternalReference()
        payload = _payment_event_payload(payment, student_id=package.student_id)
        audit_log_record(
            actor=actor, action="billing.payment.create", entity_type="payment", entity_id=payment.pk, payload=payload
        )
        outbox_event_add(
            aggregate_type="payment", aggregate_id=payment.pk, event_type="billing.payment.created", payload=payload
        )
    return payment


def payment_set_status(*, actor: User | None, payment_id, status: str) -> Payment:
    """Move a payment along PAYMENT_TRANSITIONS (admin operation).

    The payment row is locked, so concurrent updates serialize and each sees
    the other's result. Same status: returned unchanged, nothing written.
    A move the table does not allow: 422. `paid_at` is set on `succeeded`,
    kept on `refunded`, cleared otherwise. Audit
    `billing.payment.status.update` (`from`/`to`), outbox
    `billing.payment.status.updated`.
    """
    if status not in PAYMENT_TRANSITIONS:
        raise UnknownPaymentStatus(details={"status": [f"Must be one of: {', '.join(PAYMENT_TRANSITIONS)}."]})
    with transaction.atomic():
        set_lock_timeout()
        payment = lock_one(Payment.objects.all(), payment_id)
        if payment is None:
            raise PaymentNotFound()
        previous = payment.status
        if previous == status:
            return payment
        if status not in PAYMENT_TRANSITIONS[previous]:
            raise PaymentTransitionNotAllowed(f"A payment cannot move from {previous} to {status}.")
        payment.status = status
        if status == PaymentStatus.SUCCEEDED:
            payment.paid_at = clock.now()
        elif status != PaymentStatus.REFUNDED:
            payment.paid_at = None
        payment.save(update_fields=["status", "paid_at", "updated_at"])
        student_id = LessonPackage.objects.values_list("student_id", flat=True).get(pk=payment.package_id)
        audit_log_record(
            actor=actor,
            action="billing.payment.status.update",
            entity_type="payment",
            entity_id=payment.pk,
            payload={"from": previous, "to": status},
        )
        outbox_event_add(
            aggregate_type="payment",
            aggregate_id=payment.pk,
            event_type="billing.payment.status.updated",
            payload=_payment_event_payload(payment, student_id=student_id, previous_status=previous),
        )
    return payment
