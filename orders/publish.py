"""After-commit side effects of the order path: live events, notifications, the fill signal.

Everything here runs through ``transaction.on_commit`` so a rolled-back transition never
reaches a socket, a Telegram chat or a listener, and slow transports never hold a row lock.
The event payload is captured when the transition happens (the same transaction may move
the order on: NEW -> ACCEPTED -> FILLED) so each event shows the order as it was.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from rest_framework import serializers

from orders.models import Account, Fill, Order

logger = logging.getLogger(__name__)


_DATETIME = serializers.DateTimeField()


def _json_value(field, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return f"{value:.{field.decimal_places}f}"
    if isinstance(value, datetime):
        return _DATETIME.to_representation(value)
    return value


def order_as_dict(order: Order) -> dict[str, Any]:
    """The order as ``OrderSerializer`` renders it, built directly (this runs on every transition)."""
    from orders.serializers import OrderSerializer

    data: dict[str, Any] = {}
    for name in OrderSerializer.Meta.fields:
        if name == "direction":
            data[name] = order.side
        elif name == "remaining_quantity":
            data[name] = f"{order.remaining_quantity:.6f}"
        elif name in ("account", "plan"):
            data[name] = getattr(order, f"{name}_id")
        else:
            data[name] = _json_value(Order._meta.get_field(name), getattr(order, name))
    return data


def display_price(price: Decimal) -> str:
    """A price as a trader reads it: to the cent, or to the $0.0001 tick below one dollar."""
    return f"{price.quantize(Decimal('0.01') if abs(price) >= 1 else Decimal('0.0001')):f}"


def notify_safely(*, account: Account, event_type: str, title: str, body: str = "", data: dict | None = None) -> None:
    """Fan out through the notification service; a transport failure never undoes a trade."""
    from notifications.services import notify

    try:
        notify(account=account, event_type=event_type, title=title, body=body, data=data)
    except Exception:  # the order is already committed: log, never raise into the order path
        logger.exception("notify %s for account %s failed", event_type, account.pk)


def _event_publish_safely(*, user_id: int, channel: str, event: str, data: dict) -> None:
    from notifications.events import event_publish

    try:
        event_publish(user_id=user_id, channel=channel, event=event, data=data)
    except Exception:
        logger.exception("publishing %s/%s for user %s failed", channel, event, user_id)


def order_transition_publish(order: Order, *, user_id: int) -> None:
    """Queue the ``order_update`` event for the order's current status."""
    data = order_as_dict(order)
    status = order.status
    transaction.on_commit(
        lambda: _event_publish_safely(user_id=user_id, channel="order_update", event=status, data=data), robust=True
    )


def order_rejection_notify(order: Order, *, account: Account) -> None:
    data = order_as_dict(order)
    title = f"Order refused: {order.side} {order.quantity.normalize():f} {order.symbol}"
    body = f"{order.reject_code}: {order.reject_reason}"
    transaction.on_commit(
        lambda: notify_safely(account=account, event_type="order_rejected", title=title, body=body, data=data),
        robust=True,
    )


def fill_notify(fill: Fill, order: Order, *, account: Account) -> None:
    """Queue the fill's notification and the ``fill_recorded`` signal."""
    from orders.signals import fill_recorded

    data = {"fill_id": fill.pk, "order": order_as_dict(order), "price": str(fill.price), "quantity": str(fill.quantity),
            "commission": str(fill.commission), "realized_pnl": str(fill.realized_pnl)}
    title = f"Filled {fill.side} {fill.quantity.normalize():f} {fill.symbol} @ {display_price(fill.price)}"
    body = f"Order #{order.pk} is {order.status.replace('_', ' ').lower()}; commission {fill.commission}."

    def _send() -> None:
        for receiver, result in fill_recorded.send_robust(sender=Fill, fill=fill):
            if isinstance(result, Exception):
                logger.error("fill_recorded receiver %r failed on fill %s", receiver, fill.pk, exc_info=result)
        notify_safely(account=account, event_type="order_filled", title=title, body=body, data=data)

    transaction.on_commit(_send, robust=True)


def risk_warning_publish(*, account: Account, title: str, body: str, data: dict) -> None:
    """The notification service delivers ``risk_warning`` on the live channel of the same name."""
    transaction.on_commit(
        lambda: notify_safely(account=account, event_type="risk_warning", title=title, body=body, data=data),
        robust=True,
    )


def approval_request_notify(*, account: Account, title: str, body: str, data: dict) -> None:
    transaction.on_commit(
        lambda: notify_safely(account=account, event_type="approval_requested", title=title, body=body, data=data),
        robust=True,
    )
