"""Billing's domain errors, named in the school's language."""

from apps.common.errors import BusinessRuleViolation, Conflict, Forbidden, InvalidInput, NotFound


class PackageNotFound(NotFound):
    default_message = "Package not found."


class PaymentNotFound(NotFound):
    default_message = "Payment not found."


class NotAStudent(BusinessRuleViolation):
    default_message = "The user must be a student."


class ExpiryNotInFuture(BusinessRuleViolation):
    default_message = "expires_at must be in the future."


class PackageNotUsable(BusinessRuleViolation):
    """The package is not active, or is past its expires_at."""

    default_message = "The package is not active."


class PackageAccessDenied(Forbidden):
    default_message = "This package belongs to another student."


class DuplicateExternalReference(Conflict):
    default_message = "A payment with this external_reference already exists."


class PaymentTransitionNotAllowed(BusinessRuleViolation):
    default_message = "This payment status change is not allowed."


class UnknownPaymentStatus(InvalidInput):
    default_message = "Unknown payment status."


class PlanNotFound(NotFound):
    default_message = "Plan not found."


class PlanNotOnSale(BusinessRuleViolation):
    default_message = "This plan is not active."
