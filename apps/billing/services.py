"""Writes on lesson packages and payments.

The package counter functions are what booking calls; each takes a package
row the caller has already locked (`package_lock`) and relies on the
`packages_counters_consistent` check constraint as the last line of defence.

Every other write here runs in one `transaction.atomic()` together with its
audit-log and outbox rows, so a refused or failed write leaves nothing behind.
"""

import re
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, connection, transaction

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
    PlanNotFound,
    PlanNotOnSale,
    UnknownPaymentStatus,
)
from apps.billing.models import LessonPackage, PackageStatus, Payment, PaymentStatus, Plan
from apps.billing.selectors import PACKAGE_LISTS
from apps.common import clock
from apps.common.errors import InvalidInput
from apps.common.locking import lock_one, lock_row, set_lock_timeout
from apps.common.page_cache import scopes_changed, user_scopes
from apps.common.sql import Raw, param, pk_param, quote, update_by_pk, update_returning
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
PLAN_NAME_MAX_LENGTH = 128
# Ten years: longer is a typo, and `now + validity_days` must stay a representable date.
MAX_PLAN_VALIDITY_DAYS = 3650

CURRENCY_CODE_RE = re.compile(r"[A-Za-z]{3}")


# --- package counters (used by booking; the caller holds the package lock) ---


def package_lists_changed(*, student_ids) -> None:
    """Call in any transaction that writes package rows: these students' cached package lists are
    recomputed after the commit (apps/common/page_cache.py)."""
    scopes_changed(*user_scopes(PACKAGE_LISTS, student_ids))


def package_lock(*, package_id) -> LessonPackage | None:
    """Lock one package row for the rest of the transaction (None if it does not exist)."""
    return lock_row(LessonPackage, package_id)


def _apply_counters(package: LessonPackage, **deltas: int) -> LessonPackage:
    """Move the counters in the database (its check constraint has the last word), and on the locked row we hold.

    The caller holds the row lock, so the new values are known without reading them back.
    """
    now = clock.now()
    update_by_pk(
        LessonPackage,
        package.pk,
        updated_at=now,
        **{field: Raw(f"{quote(field)} + %s", [delta]) for field, delta in deltas.items()},
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


def _package_move_if(*, package_id, extra_where: str = "", extra_params=(), now, **counters: int):
    """Move a usable package's counters in one statement that also locks it; None if none matched."""
    where = f"{quote('id')} = %s AND {quote('status')} = %s AND {quote('expires_at')} > %s{extra_where}"
    params = [pk_param(LessonPackage, package_id), PackageStatus.ACTIVE, param(LessonPackage, "expires_at", now)]
    package = update_returning(
        LessonPackage,
        where=where,
        params=[*params, *extra_params],
        updated_at=now,
        **{field: Raw(f"{quote(field)} + %s", [delta]) for field, delta in counters.items()},
    )
    if package is not None:
        package_lists_changed(student_ids=[package.student_id])
    return package


def package_reserve_if_free(*, package_id, student_id, now: datetime) -> LessonPackage | None:
    """A hold's reservation in one statement: the student's own usable package with a free lesson, or None.

    None does not say why (unknown, someone else's, unusable, exhausted): the
    caller asks when it needs to (the hold's refusals).
    """
    free = f" AND {quote('student_id')} = %s AND {quote('lessons_left')} - {quote('lessons_reserved')} > 0"
    return _package_move_if(
        package_id=package_id,
        extra_where=free,
        extra_params=[param(LessonPackage, "student_id", student_id)],
        now=now,
        lessons_reserved=+1,
    )


def package_consume_if_usable(*, package_id, now: datetime) -> LessonPackage | None:
    """A confirm spends its reserved lesson in one statement, if the package is still usable (else None)."""
    return _package_move_if(package_id=package_id, now=now, lessons_left=-1, lessons_reserved=-1)


def package_is_usable(*, package: LessonPackage) -> bool:
    """Active and not yet past expires_at: the package can pay for lessons and take payments."""
    return package.status == PackageStatus.ACTIVE and package.expires_at > clock.now()


# --- plans ---


def _clean_name(value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("A non-blank name is required.")
    if len(value.strip()) > PLAN_NAME_MAX_LENGTH or "\x00" in value:
        raise ValueError(f"At most {PLAN_NAME_MAX_LENGTH} characters, no NUL characters.")
    return value.strip()


def _whole_number_between(minimum: int, maximum: int):
    def clean(value) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("A valid integer is required.")
        if not minimum <= value <= maximum:
            raise ValueError(f"Must be between {minimum} and {maximum}.")
        return value

    return clean


def _clean_price(value) -> Decimal:
    error = _money_error(value)
    if error is not None:
        raise ValueError(error)
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _clean_currency(value) -> str:
    if not isinstance(value, str) or not CURRENCY_CODE_RE.fullmatch(value):
        raise ValueError("Must be a 3-letter currency code, e.g. USD.")
    return value.upper()


def _clean_flag(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError("Must be true or false.")
    return value


# The rules of a plan's fields, in one place: field -> cleaner (normalized value, or ValueError).
PLAN_RULES = {
    "name": _clean_name,
    "lessons_total": _whole_number_between(1, MAX_LESSONS_PER_PACKAGE),
    "price": _clean_price,
    "currency": _clean_currency,
    "validity_days": _whole_number_between(1, MAX_PLAN_VALIDITY_DAYS),
    "is_active": _clean_flag,
}
PLAN_FIELDS = tuple(PLAN_RULES)


def plan_clean(*, data: dict) -> dict:
    """The plan fields given in `data`, checked and normalized (other keys are ignored).

    Raises InvalidInput naming every bad field. The API's serializers state the
    same rules (so the OpenAPI schema shows them); the Django admin's form calls
    this, so both faces of the catalog refuse the same values.
    """
    cleaned, errors = {}, {}
    for field, clean in PLAN_RULES.items():
        if field in data:
            try:
                cleaned[field] = clean(data[field])
            except ValueError as exc:
                errors[field] = [str(exc)]
    if errors:
        raise InvalidInput(details=errors)
    return cleaned


def _plan_audit_value(value):
    return f"{value:.2f}" if isinstance(value, Decimal) else value


def _plan_payload(plan: Plan) -> dict:
    return {"plan_id": str(plan.pk)} | {field: _plan_audit_value(getattr(plan, field)) for field in PLAN_FIELDS}


def plan_create(
    *,
    actor: User | None,
    name: str,
    lessons_total: int,
    price,
    validity_days: int,
    currency: str = "USD",
    is_active: bool = True,
) -> Plan:
    """Add a plan to the catalog (admin operation); audit `billing.plan.create`.

    `lessons_total` 1..1000, `price` > 0 with at most 2 places, `currency` three
    letters (stored upper-case), `validity_days` 1..3650; anything else is 400.
    """
    cleaned = plan_clean(
        data={
            "name": name,
            "lessons_total": lessons_total,
            "price": price,
            "currency": currency,
            "validity_days": validity_days,
            "is_active": is_active,
        }
    )
    with transaction.atomic():
        plan = Plan.objects.create(**cleaned)
        payload = _plan_payload(plan)
        audit_log_record(
            actor=actor, action="billing.plan.create", entity_type="plan", entity_id=plan.pk, payload=payload
        )
    return plan


def plan_update(*, actor: User | None, plan_id, data: dict) -> Plan:
    """Change some of a plan's fields (admin operation), with the rules of `plan_create`.

    Unknown plan: 404. Packages already sold keep their lessons, expiry and
    price. Audit `billing.plan.update` with `{"changes": {field: [old, new]}}`,
    only when something changed.
    """
    cleaned = plan_clean(data=data)
    with transaction.atomic():
        set_lock_timeout()
        plan = lock_one(Plan.objects.all(), plan_id)
        if plan is None:
            raise PlanNotFound()
        changes = {
            field: [_plan_audit_value(getattr(plan, field)), _plan_audit_value(value)]
            for field, value in cleaned.items()
            if getattr(plan, field) != value
        }
        if changes:
            for field in changes:
                setattr(plan, field, cleaned[field])
            plan.save(update_fields=[*changes, "updated_at"])
            audit_log_record(
                actor=actor,
                action="billing.plan.update",
                entity_type="plan",
                entity_id=plan.pk,
                payload={"changes": changes},
            )
    return plan


# --- packages ---


def _package_event_payload(package: LessonPackage) -> dict:
    payload = {
        "package_id": str(package.pk),
        "student_id": str(package.student_id),
        "lessons_total": package.lessons_total,
        "lessons_left": package.lessons_left,
        "expires_at": package.expires_at.isoformat(),
        "status": package.status,
    }
    if package.plan_id is not None:
        # Only packages sold from a plan say which one and what it cost.
        payload["plan_id"] = str(package.plan_id)
        payload["price"] = f"{package.price:.2f}"
    return payload


def package_create(
    *,
    actor: User | None,
    student_id,
    lessons_total: int | None = None,
    expires_at: datetime | None = None,
    plan_id=None,
) -> LessonPackage:
    """Sell a student a package of lessons (admin operation), by hand or from a plan.

    Either `lessons_total` and `expires_at`, or `plan_id` (never both: 400).
    From a plan, the lessons come from the plan, `expires_at = now +
    validity_days` and the package keeps the plan's price of this moment; an
    unknown plan is 404, an inactive one 422. The user must exist and be a
    student, and `expires_at` must lie in the future (both 422). Writes audit
    `billing.package.create` and outbox `billing.package.created` in the same
    transaction.
    """
    if plan_id is not None:
        if lessons_total is not None or expires_at is not None:
            raise InvalidInput(details={"plan_id": ["Give either plan_id, or lessons_total and expires_at; not both."]})
    else:
        given = {"lessons_total": lessons_total, "expires_at": expires_at}
        missing = {name: ["This field is required."] for name, value in given.items() if value is None}
        if missing:
            raise InvalidInput(details=missing)
        if lessons_total < 1 or lessons_total > MAX_LESSONS_PER_PACKAGE:
            raise InvalidInput(details={"lessons_total": [f"Must be between 1 and {MAX_LESSONS_PER_PACKAGE}."]})
        if expires_at <= clock.now():
            raise ExpiryNotInFuture()
    with transaction.atomic():
        plan = None
        if plan_id is not None:
            set_lock_timeout()
            # Locked, so a concurrent PATCH (deactivation, new price) lands wholly before or after this sale.
            plan = lock_one(Plan.objects.all(), plan_id)
            if plan is None:
                raise PlanNotFound()
        if not User.objects.filter(pk=student_id, role=Role.STUDENT).exists():
            raise NotAStudent()
        if plan is not None:
            if not plan.is_active:
                raise PlanNotOnSale()
            lessons_total = plan.lessons_total
            expires_at = clock.now() + timedelta(days=plan.validity_days)
        package = LessonPackage.objects.create(
            student_id=student_id,
            lessons_total=lessons_total,
            lessons_left=lessons_total,
            lessons_reserved=0,
            expires_at=expires_at,
            status=PackageStatus.ACTIVE,
            plan=plan,
            price=plan.price if plan is not None else None,
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


def package_cancel_locked(*, actor: User | None, package: LessonPackage, reason: str | None = None) -> LessonPackage:
    """Mark a locked `active` package `canceled`; audit `billing.package.cancel`, outbox `billing.package.canceled`.

    The caller (booking's `package_cancel`) has already canceled the package's
    holds and upcoming bookings and checked that the package is active.
    """
    if package.status != PackageStatus.ACTIVE:
        raise ValueError(f"package cannot move {package.status} -> canceled")
    package.status = PackageStatus.CANCELED
    package.save(update_fields=["status", "updated_at"])
    package_lists_changed(student_ids=[package.student_id])
    payload = {**_package_event_payload(package), "reason": reason}
    audit_log_record(
        actor=actor, action="billing.package.cancel", entity_type="package", entity_id=package.pk, payload=payload
    )
    outbox_event_add(
        aggregate_type="package", aggregate_id=package.pk, event_type="billing.package.canceled", payload=payload
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


def _money_error(amount) -> str | None:
    """Why `amount` is not a positive money value with at most 2 places (None when it is)."""
    try:
        value = Decimal(str(amount))
    except (InvalidOperation, ValueError, TypeError):
        return "A valid number is required."
    if not value.is_finite():
        return "A valid number is required."
    if value <= 0:
        return "Must be greater than 0."
    if value > MAX_PAYMENT_AMOUNT:
        return f"Must be at most {MAX_PAYMENT_AMOUNT}."
    if value != value.quantize(Decimal("0.01")):
        return "At most 2 decimal places."
    return None


def _normalize_amount(amount, *, field: str = "amount") -> Decimal:
    error = _money_error(amount)
    if error is not None:
        raise InvalidInput(details={field: [error]})
    return Decimal(str(amount)).quantize(Decimal("0.01"))


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
    kept on `refunded`, cleared otherwise; `refunded_at` is set on `refunded`
    (final, so only ever once) and null on every other status. Audit
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
        elif status == PaymentStatus.REFUNDED:
            # `refunded` is final, so refunded_at is written exactly once (a check constraint
            # keeps it set on refunded payments and null on every other status).
            payment.refunded_at = clock.now()
        else:
            payment.paid_at = None
        payment.save(update_fields=["status", "paid_at", "refunded_at", "updated_at"])
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
