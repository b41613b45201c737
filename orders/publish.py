"""The order path's events on the spine (``alphaloop.bus``): order updates, refusals, fills, warnings.

The order path never knows who listens: the notifications app tells the trader, the equity app matches
fills. Delivery is after commit, so a rolled-back transition reaches nobody and a slow transport never
holds a row lock. The order is captured when the transition happens (the same transaction may move it
on: NEW -> ACCEPTED -> FILLED), so each event shows the order as it was.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from alphaloop import bus
from alphaloop.events import (
    ApprovalRequested,
    FillRecorded,
    OrderRejected,
    OrderUpdated,
    RiskWarning,
)
from orders.models import Account, Fill, Order

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


def order_transition_publish(order: Order, *, user_id: int) -> None:
    """``OrderUpdated`` for the order's current status."""
    bus.publish(OrderUpdated(user_id=user_id, account_id=order.account_id, order=order_as_dict(order)))


def order_rejection_notify(order: Order, *, account: Account) -> None:
    bus.publish(OrderRejected(account_id=account.pk, order=order_as_dict(order)))


def fill_notify(fill: Fill, order: Order, *, account: Account) -> None:
    """``FillRecorded`` for a fill just booked on ``order``."""
    bus.publish(FillRecorded(
        account_id=account.pk, fill_id=fill.pk, order=order_as_dict(order), symbol=fill.symbol, side=fill.side,
        price=fill.price, quantity=fill.quantity, commission=fill.commission, realized_pnl=fill.realized_pnl,
        ts_event=fill.executed_at,
    ))


def risk_warning_publish(*, account: Account, title: str, body: str, data: dict) -> None:
    bus.publish(RiskWarning(account_id=account.pk, headline=title, detail=body, facts=data))


def approval_request_notify(*, account: Account, title: str, body: str, data: dict) -> None:
    bus.publish(ApprovalRequested(account_id=account.pk, headline=title, detail=body, facts=data))
