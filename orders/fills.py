"""Booking a fill: Position, Account cash/realized P&L/commission and the Order in one transaction.

Lock order everywhere in the orders app: Account row, then Order row, then Position row. The
arithmetic is :mod:`orders.ledger`; this module only loads, locks and stores.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from alphaloop.audit import audit_log_create
from alphaloop.money import price_round
from orders.ledger import cash_delta, position_apply
from orders.models import Account, Fill, Order, Position
from orders.publish import fill_notify, order_transition_publish

logger = logging.getLogger(__name__)


class FillRefused(ValueError):
    """A reported fill cannot be booked (overfill, or an order that never reached a venue)."""


def fill_apply(
    *,
    account: Account,
    order: Order,
    quantity: Decimal,
    price: Decimal,
    commission: Decimal,
    executed_at: datetime,
    external_id: str = "",
) -> Fill:
    """Book one fill. The caller is inside ``transaction.atomic`` holding the locks on ``account`` and ``order``.

    ``quantity`` must not exceed what the order has left. An open order moves to PARTIALLY_FILLED
    or FILLED; a late fill on a CANCELLED/EXPIRED order (a real venue executed it before the cancel
    landed) is booked without changing the order's status.
    """
    if quantity <= 0:
        raise FillRefused("fill quantity must be positive")
    if quantity > order.remaining_quantity:
        raise FillRefused(f"fill of {quantity} exceeds the {order.remaining_quantity} left on order {order.pk}")
    position, _ = Position.objects.select_for_update().get_or_create(
        account=account, symbol=order.symbol, defaults={"asset_type": Position.STOCK}
    )
    change = position_apply(
        quantity=position.quantity, cost_basis=position.book_cost, side=order.side,
        fill_quantity=quantity, price=price, multiplier=position.multiplier,
    )
    if change.quantity != 0 and (position.quantity == 0 or (change.quantity > 0) != (position.quantity > 0)):
        position.opened_at = executed_at  # a new position, or the other side after a flip
    position.quantity = change.quantity
    position.cost_basis = change.cost_basis
    position.avg_cost = change.avg_cost
    position.realized_pnl += change.realized_pnl
    position.save(update_fields=["quantity", "cost_basis", "avg_cost", "realized_pnl", "opened_at", "updated_at"])

    cash_flow = cash_delta(side=order.side, quantity=quantity, price=price, commission=commission,
                           multiplier=position.multiplier)
    account.cash += cash_flow
    account.realized_pnl += change.realized_pnl
    account.total_commission += commission
    account.save(update_fields=["cash", "realized_pnl", "total_commission", "updated_at"])

    fill = Fill.objects.create(
        order=order, account=account, symbol=order.symbol, side=order.side, quantity=quantity, price=price,
        commission=commission, realized_pnl=change.realized_pnl, cash_flow=cash_flow, external_id=external_id,
        executed_at=executed_at,
    )
    previous_filled = order.filled_quantity
    order.filled_quantity = previous_filled + quantity
    order.avg_fill_price = price_round(
        ((order.avg_fill_price or Decimal("0")) * previous_filled + price * quantity) / order.filled_quantity
    )
    late = order.status not in (Order.ACCEPTED, Order.PARTIALLY_FILLED)
    if not late:
        order.status = Order.FILLED if order.remaining_quantity == 0 else Order.PARTIALLY_FILLED
        if order.status == Order.FILLED:
            order.filled_at = executed_at
    order.save(update_fields=["filled_quantity", "avg_fill_price", "status", "filled_at", "updated_at"])

    action = "order.late_fill" if late else ("order.fill" if order.status == Order.FILLED else "order.partial_fill")
    audit_log_create(
        action=action, resource=f"order:{order.pk}",
        payload={"fill_id": fill.pk, "quantity": quantity, "price": price, "commission": commission,
                 "realized_pnl": change.realized_pnl, "status": order.status, "cash": account.cash},
    )
    order_transition_publish(order, user_id=account.user_id)
    fill_notify(fill, order, account=account)
    return fill


def fill_record(
    *,
    order_id: int,
    quantity: Decimal,
    price: Decimal,
    commission: Decimal,
    executed_at: datetime,
    external_id: str = "",
) -> Fill:
    """Book a fill a venue reported (real broker adapters call this). Idempotent on ``external_id``."""
    account_id = Order.objects.values_list("account_id", flat=True).get(pk=order_id)
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        if external_id:
            existing = Fill.objects.filter(order=order, external_id=external_id).first()
            if existing is not None:
                return existing
        if order.status == Order.REJECTED:
            raise FillRefused(f"order {order.pk} was rejected and never reached a venue")
        if order.status == Order.NEW:
            # The venue executed an order whose acknowledgement we never got: it was accepted.
            order.status = Order.ACCEPTED
            order.accepted_at = executed_at
            order.save(update_fields=["status", "accepted_at", "updated_at"])
            audit_log_create(action="order.accept", resource=f"order:{order.pk}", payload={"via": "fill"})
            order_transition_publish(order, user_id=account.user_id)
        return fill_apply(account=account, order=order, quantity=quantity, price=price, commission=commission,
                          executed_at=executed_at, external_id=external_id)
