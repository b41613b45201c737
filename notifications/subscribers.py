"""Notifications is a sink: it subscribes to the events a person should hear of and tells them.

A ``Notice`` goes to the account holder on the channels they chose (every account holder when the event
names no account) and is answered by ``NotificationSent``; a ``LiveUpdate`` is stored and pushed on its live
channel; ``PriceTicks`` go to the ``prices`` group as one message per batch; ``ChatReplied`` answers the
Telegram chat. Registered in ``NotificationsConfig.ready``.
"""

from __future__ import annotations

import logging

from django.apps import apps

from alphaloop import bus
from alphaloop.events import (
    EVENT_TYPES,
    ChatReplied,
    LiveUpdate,
    Notice,
    NotificationSent,
    PriceTicks,
)
from notifications.events import PRICES_GROUP, event_publish, group_send_safely
from notifications.exceptions import TransportError
from notifications.models import NotificationLog
from notifications.services import notify
from notifications.telegram import TelegramClient

logger = logging.getLogger(__name__)

DELIVERED = (NotificationLog.SENT, NotificationLog.PENDING)


def notice_send(event: Notice) -> None:
    accounts = apps.get_model("orders", "Account").objects.select_related("user")
    # An event of no account (a shared signal) is for every account holder.
    if event.account_id is None:
        accounts = accounts.filter(user__is_active=True)
    else:
        accounts = accounts.filter(pk=event.account_id)
    title, body, data = event.title(), event.body(), event.data()
    for account in accounts:
        rows = notify(account=account, event_type=event.notification_type, title=title, body=body, data=data)
        bus.publish(
            NotificationSent(
                notification_type=event.notification_type,
                account_id=account.pk,
                data=data,
                delivered=any(row.status in DELIVERED for row in rows),
            )
        )


def live_update_push(event: LiveUpdate) -> None:
    event_publish(user_id=event.user_id, channel=event.live_channel, event=event.live_event(), data=event.live_data())


def price_ticks_push(event: PriceTicks) -> None:
    group_send_safely(PRICES_GROUP, {"type": "price.ticks", "ticks": [tick.as_message() for tick in event.ticks]})


def chat_reply_send(event: ChatReplied) -> None:
    try:
        TelegramClient.from_settings().send_message(event.chat_id, event.text)
    except TransportError as exc:
        logger.error("telegram reply not delivered: %s", exc)


def subscribers_register() -> None:
    for event_type in EVENT_TYPES.values():
        if issubclass(event_type, Notice):
            bus.subscribe(event_type, "notifications.notice", notice_send)
        if issubclass(event_type, LiveUpdate):
            bus.subscribe(event_type, "notifications.live", live_update_push)
    bus.subscribe(PriceTicks, "notifications.prices", price_ticks_push)
    bus.subscribe(ChatReplied, "notifications.telegram", chat_reply_send)
