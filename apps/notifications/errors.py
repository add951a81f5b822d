"""Errors the notifications services raise, in the school's language."""

from apps.common.errors import Forbidden, InvalidInput, NotFound


class RecipientNotFound(NotFound):
    default_message = "Recipient user not found."


class NotificationNotFound(NotFound):
    default_message = "Notification not found."


class NotificationAccessDenied(Forbidden):
    default_message = "Only an admin or the recipient may change this notification."


class UnknownChannel(InvalidInput):
    default_message = "Unknown notification channel."
