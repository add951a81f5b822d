"""What the worker tells whom for each outbox event type (SPEC §4).

One entry in `EVENT_TEMPLATES` per event type: who receives it (ids read from
the event payload, per the outbox payload contract) and the title/body
templates, formatted with the payload plus a few derived, human-readable
fields. A new event type is one entry; an unknown type gets no notification.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

RecipientResolver = Callable[[dict[str, Any]], list[uuid.UUID]]


class PayloadError(ValueError):
    """The event payload lacks an id its template needs, or carries a malformed one."""


def payload_ids(*fields: str) -> RecipientResolver:
    """Recipients are the users whose ids sit in these payload fields (all required)."""

    def resolve(payload: dict[str, Any]) -> list[uuid.UUID]:
        ids = []
        for field in fields:
            raw = payload.get(field)
            if not raw:
                raise PayloadError(f"payload has no {field}")
            try:
                ids.append(uuid.UUID(str(raw)))
            except ValueError:
                raise PayloadError(f"payload {field} is not a UUID: {raw!r}") from None
        return ids

    return resolve


def no_recipients(payload: dict[str, Any]) -> list[uuid.UUID]:
    return []


@dataclass(frozen=True)
class EventTemplate:
    recipients: RecipientResolver
    title: str = ""
    body: str = ""


STUDENT = payload_ids("student_id")
STUDENT_AND_TEACHER = payload_ids("student_id", "teacher_id")

EVENT_TEMPLATES: dict[str, EventTemplate] = {
    # Recipient ids come from the payload (the outbox payload contract), never from other apps' tables.
    "booking.hold.created": EventTemplate(recipients=no_recipients),
    "booking.confirmed": EventTemplate(
        recipients=STUDENT,
        title="Booking confirmed: {start_at_display}",
        body="Your lesson from {start_at_display} to {end_at_display} is confirmed. See you there!",
    ),
    "booking.canceled": EventTemplate(
        recipients=STUDENT,
        title="Booking canceled: {start_at_display}",
        body="Your booking for {start_at_display} was canceled. {refund_note}",
    ),
    "booking.rescheduled": EventTemplate(
        recipients=STUDENT,
        title="Lesson rescheduled to {start_at_display}",
        body="Your lesson was moved to {start_at_display} – {end_at_display}.",
    ),
    "booking.hold.expired": EventTemplate(
        recipients=STUDENT,
        title="Your hold has expired",
        body="Your hold on the slot at {start_at_display} expired before it was confirmed; "
        "the reserved lesson is back in your package.",
    ),
    "lesson.created": EventTemplate(
        recipients=STUDENT_AND_TEACHER,
        title="Lesson scheduled: {scheduled_start_at_display}",
        body="A lesson is scheduled from {scheduled_start_at_display} to {scheduled_end_at_display}.",
    ),
    "lesson.canceled": EventTemplate(
        recipients=STUDENT_AND_TEACHER,
        title="Lesson canceled: {scheduled_start_at_display}",
        body="The lesson scheduled for {scheduled_start_at_display} was canceled.",
    ),
    "lesson.reminder": EventTemplate(
        recipients=STUDENT_AND_TEACHER,
        title="Reminder: lesson at {scheduled_start_at_display}",
        body="Your guitar lesson runs from {scheduled_start_at_display} to {scheduled_end_at_display}. See you there!",
    ),
    "billing.package.created": EventTemplate(
        recipients=STUDENT,
        title="New lesson package: {lessons_total} lessons",
        body="A package of {lessons_total} lessons was added to your account. It expires on {expires_at_display}.",
    ),
    "billing.package.expired": EventTemplate(
        recipients=STUDENT,
        title="Your lesson package has expired",
        body="Your package expired on {expires_at_display} with {lessons_left} unused lessons.",
    ),
    "billing.package.canceled": EventTemplate(
        recipients=STUDENT,
        title="Your lesson package was canceled",
        body="Your package of {lessons_total} lessons was canceled by the school. {reason_note}",
    ),
    "billing.payment.created": EventTemplate(recipients=no_recipients),
    "billing.payment.status.updated": EventTemplate(
        recipients=STUDENT,  # the package's student
        title="Payment {status}",
        body="Your payment of {amount} {currency} is now {status} (was {previous_status}).",
    ),
}


@dataclass(frozen=True)
class NotificationDraft:
    user_id: uuid.UUID
    title: str
    body: str


class _Context(dict):
    """Format context: a missing key renders as '-' rather than failing the whole event."""

    def __missing__(self, key: str) -> str:
        return "-"


def _display_datetime(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    parsed: datetime | None = parse_datetime(value)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return parsed.strftime("%Y-%m-%d %H:%M")
    return parsed.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _context(payload: dict[str, Any]) -> _Context:
    context = _Context(payload)
    for key, value in payload.items():
        if key.endswith("_at"):
            context[f"{key}_display"] = _display_datetime(value) or value or "-"
    refund = payload.get("refund_returned")
    context["refund_note"] = (
        "The lesson was returned to your package."
        if refund
        else "The lesson was not returned to your package."
        if refund is False
        else ""
    )
    reason = payload.get("reason")
    context["reason_note"] = f"Reason: {reason}" if isinstance(reason, str) and reason.strip() else ""
    return context


def notification_drafts_for(*, event_type: str, payload: dict[str, Any]) -> list[NotificationDraft]:
    """The notifications one event causes, one per distinct recipient (none for unknown types)."""
    template = EVENT_TEMPLATES.get(event_type)
    if template is None:
        return []
    recipients = list(dict.fromkeys(template.recipients(payload or {})))
    if not recipients:
        return []
    context = _context(payload or {})
    title = template.title.format_map(context).strip()[:255]
    body = template.body.format_map(context).strip()
    return [NotificationDraft(user_id=user_id, title=title, body=body) for user_id in recipients]
