"""One transport class per notification channel (healthchecks' ``hc/api/transports.py`` shape).

``Transport.notify`` delivers one message or raises :class:`TransportError`. Transports with
``network_io = True`` talk to the outside world and are only ever called outside a database
transaction (see ``notifications.services``).
"""

from __future__ import annotations

import abc
import smtplib
from dataclasses import dataclass, field
from typing import Any, ClassVar

from django.conf import settings
from django.core.mail import send_mail

from notifications.events import event_deliver
from notifications.exceptions import TransportError
from notifications.models import NotificationLog
from notifications.telegram import TelegramClient

# Which live WebSocket channel an event type goes to (anything else: "notification").
LIVE_CHANNEL_BY_EVENT = {
    "price_alert": "price_alert",
    "risk_warning": "risk_warning",
    "signal_fired": "signal_fired",
    "equity_update": "equity_update",
}


def live_channel_for(event_type: str) -> str:
    if event_type.startswith("order_"):
        return "order_update"
    return LIVE_CHANNEL_BY_EVENT.get(event_type, "notification")


@dataclass(frozen=True)
class Message:
    """What one notification says, independent of the channel."""

    user_id: int
    event_type: str
    title: str
    body: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    email: str = ""

    def live_payload(self) -> dict[str, Any]:
        return {**self.data, "event_type": self.event_type, "title": self.title, "body": self.body}

    def text(self) -> str:
        return f"{self.title}\n{self.body}".strip()


class Transport(abc.ABC):
    channel: ClassVar[str]
    network_io: ClassVar[bool] = False

    @abc.abstractmethod
    def notify(self, message: Message) -> str:
        """Deliver ``message``; return a note for the log ('' when there is nothing to add)."""


class WebsocketTransport(Transport):
    """The user's live group, on the channel matching the event type; stored for replay."""

    channel = NotificationLog.WEBSOCKET

    def notify(self, message: Message) -> str:
        return _live(message, live_channel_for(message.event_type), message.event_type)


class DesktopTransport(Transport):
    """A ``notification``/``desktop`` live event that the dashboard shows as a browser Notification."""

    channel = NotificationLog.DESKTOP

    def notify(self, message: Message) -> str:
        return _live(message, "notification", "desktop")


def _live(message: Message, channel: str, event: str) -> str:
    row, pushed = event_deliver(user_id=message.user_id, channel=channel, event=event, data=message.live_payload())
    # The event is stored either way; a client that was not reached gets it when it resumes.
    return "" if pushed else f"live push failed; event {row.pk} is delivered on reconnect"


class TelegramTransport(Transport):
    channel = NotificationLog.TELEGRAM
    network_io = True

    def notify(self, message: Message) -> str:
        TelegramClient.from_settings().send_message(settings.TELEGRAM_CHAT_ID, message.text())
        return ""


class EmailTransport(Transport):
    """Django's e-mail backend, to the account owner's address."""

    channel = NotificationLog.EMAIL
    network_io = True

    def notify(self, message: Message) -> str:
        if not message.email:
            raise TransportError("the user has no e-mail address", permanent=True)
        try:
            send_mail(message.title, message.body or message.title, settings.DEFAULT_FROM_EMAIL, [message.email])
        except (smtplib.SMTPException, OSError) as exc:
            permanent = isinstance(exc, smtplib.SMTPRecipientsRefused)
            raise TransportError(f"e-mail not sent: {exc}", permanent=permanent) from exc
        return ""


TRANSPORTS: dict[str, Transport] = {
    transport.channel: transport
    for transport in (WebsocketTransport(), TelegramTransport(), EmailTransport(), DesktopTransport())
}
