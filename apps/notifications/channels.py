"""Delivery channels: one function per channel name, looked up by the worker.

A channel takes a notification (with its `user` loaded) and either returns
(delivered) or raises (the notification becomes `failed` with the error kept).
A new channel is one entry in `CHANNELS`.
"""

from collections.abc import Callable

from django.conf import settings
from django.core import mail

from apps.notifications.models import Notification

ChannelSender = Callable[[Notification], None]

EMAIL = "email"


def send_email(notification: Notification) -> None:
    """Send through Django's email framework (console by default, SMTP in production)."""
    if not notification.user.email:
        raise ValueError("recipient has no email address")
    mail.send_mail(
        subject=notification.title,
        message=notification.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        recipient_list=[notification.user.email],
        fail_silently=False,
    )


CHANNELS: dict[str, ChannelSender] = {
    EMAIL: send_email,
}


def channel_names() -> list[str]:
    return sorted(CHANNELS)
