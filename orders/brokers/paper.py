"""The paper broker (``ORDER_MODE=PAPER``, the default): simulated fills against the live quotes.

Fill assumptions, written down:

- **Market** orders fill on submit at the current quote moved against the trader by
  ``PAPER_SLIPPAGE_BPS`` (a buy pays quote x (1 + bps/10000), a sell receives quote x (1 - bps/10000),
  rounded adversely to 6 places). Without a live quote the paper broker refuses the order.
- **Limit** orders that are marketable on submit fill like a market order but never beyond the
  limit. A **resting** limit fills when a tick trades at or through it (touch), at the limit price.
- **Stop** orders trigger when a tick (or the quote on submit) reaches the stop and then fill as
  market orders at that price with slippage. **Stop-limit** orders trigger the same way and then
  behave as a limit: marketable on the triggering price, else resting at the limit.
- **Partial fills**: one fill takes at most ``PAPER_MAX_FILL_QTY`` (0 = unlimited) and, for fills
  driven by a tick that reports a volume, at most that tick's volume; the rest stays open and fills
  on later ticks (a market order's remainder at each later tick's price with slippage).
- **Commission**: ``PAPER_COMMISSION_PER_SHARE`` per share with ``PAPER_COMMISSION_MIN`` per order,
  in cents; an order filled in pieces pays the same total as one fill (see ``orders.ledger``).
- With ``TRADING_HOURS_ONLY`` resting orders fill only during the NYSE regular session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from alphaloop.events import PriceTicks, Tick
from marketdata import calendar
from marketdata.models import Quote
from orders.brokers import Broker, BrokerAccount, BrokerAck, BrokerFill, BrokerOrder, BrokerPosition
from orders.fills import fill_apply
from orders.ledger import adverse_price, fill_commission
from orders.models import Account, Order, Position

logger = logging.getLogger(__name__)

RESTING_STATUSES = (Order.ACCEPTED, Order.PARTIALLY_FILLED)


@dataclass(frozen=True)
class PaperMatch:
    quantity: Decimal  # 0 when nothing fills
    price: Decimal | None
    stop_triggered: bool


def max_fill_quantity(tick_volume: int | None = None) -> Decimal | None:
    """The most one fill may take: ``PAPER_MAX_FILL_QTY`` (0 = no cap) and the tick's volume when it has one."""
    caps = []
    configured = settings.PAPER_MAX_FILL_QTY
    if configured > 0:
        caps.append(configured)
    if tick_volume:
        caps.append(Decimal(tick_volume))
    return min(caps) if caps else None


def paper_match(
    *,
    side: str,
    order_type: str,
    limit_price: Decimal | None,
    stop_price: Decimal | None,
    stop_triggered: bool,
    remaining: Decimal,
    price: Decimal,
    resting: bool,
    max_quantity: Decimal | None,
    slippage_bps: Decimal,
) -> PaperMatch:
    """What an order does at ``price``. ``resting``: the order was live before this price printed."""
    buy = side == Order.BUY
    newly_triggered = False
    if order_type in (Order.STOP, Order.STOP_LIMIT) and not stop_triggered:
        if not (price >= stop_price if buy else price <= stop_price):
            return PaperMatch(Decimal("0"), None, False)
        stop_triggered = newly_triggered = True
    if order_type in (Order.MARKET, Order.STOP):
        fill_price = adverse_price(price, side, slippage_bps)
    else:
        if not (price <= limit_price if buy else price >= limit_price):
            return PaperMatch(Decimal("0"), None, stop_triggered)
        if resting and not newly_triggered:
            fill_price = limit_price
        else:
            taker = adverse_price(price, side, slippage_bps)
            fill_price = min(taker, limit_price) if buy else max(taker, limit_price)
    quantity = remaining if max_quantity is None else min(remaining, max_quantity)
    return PaperMatch(quantity, fill_price, stop_triggered)


def _commission(order: Order, quantity: Decimal) -> Decimal:
    return fill_commission(
        already_filled=order.filled_quantity, quantity=quantity,
        per_share=settings.PAPER_COMMISSION_PER_SHARE, minimum=settings.PAPER_COMMISSION_MIN,
    )


class PaperBroker(Broker):
    name = "paper"
    real = False

    def submit(self, order: Order) -> BrokerAck:
        quote = Quote.objects.filter(instrument__symbol=order.symbol).values_list("price", flat=True).first()
        if quote is None and order.order_type == Order.MARKET:
            return BrokerAck(accepted=False, reason=f"No live quote for {order.symbol}: the paper broker cannot fill a market order.")
        broker_order_id = f"PAPER-{order.pk}"
        if quote is None:
            return BrokerAck(accepted=True, broker_order_id=broker_order_id)
        match = paper_match(
            side=order.side, order_type=order.order_type, limit_price=order.limit_price, stop_price=order.stop_price,
            stop_triggered=order.stop_triggered, remaining=order.remaining_quantity, price=quote, resting=False,
            max_quantity=max_fill_quantity(), slippage_bps=settings.PAPER_SLIPPAGE_BPS,
        )
        fills = ()
        if match.quantity > 0:
            fills = (BrokerFill(quantity=match.quantity, price=match.price, commission=_commission(order, match.quantity),
                                executed_at=timezone.now()),)
        return BrokerAck(accepted=True, broker_order_id=broker_order_id, fills=fills, stop_triggered=match.stop_triggered)

    def cancel(self, order: Order) -> None:
        """Nothing rests at a venue: the order path's atomic status claim is the whole cancel."""

    def status(self, order: Order) -> str:
        return Order.objects.values_list("status", flat=True).get(pk=order.pk)

    def positions(self, account: Account) -> list[BrokerPosition]:
        rows = Position.objects.filter(account=account).exclude(quantity=0).order_by("symbol")
        return [BrokerPosition(symbol=p.symbol, quantity=p.quantity, avg_cost=p.avg_cost) for p in rows]

    def account(self, account: Account) -> BrokerAccount:
        from orders.selectors import account_equity

        account = Account.objects.get(pk=account.pk)
        return BrokerAccount(cash=account.cash, equity=account_equity(account), currency=account.base_currency)

    def open_orders(self, account: Account) -> list[BrokerOrder]:
        rows = Order.objects.filter(account=account, status__in=Order.OPEN_STATUSES).order_by("created_at", "id")
        return [BrokerOrder(broker_order_id=o.broker_order_id, client_order_id=o.client_order_id, symbol=o.symbol,
                            side=o.side, quantity=o.quantity, filled_quantity=o.filled_quantity, status=o.status)
                for o in rows]

    def executions(self, account: Account, *, after) -> list:
        """None happen anywhere else: the paper broker's executions are the ledger's own fills."""
        return []


def resting_candidates(symbol: str, price: Decimal) -> list[tuple[int, int]]:
    """(order id, account id) of the paper orders on ``symbol`` that ``price`` may fill, oldest first."""
    buy, sell = Q(side=Order.BUY), Q(side=Order.SELL)
    stop_reached = (buy & Q(stop_price__lte=price)) | (sell & Q(stop_price__gte=price))
    crosses = (
        Q(order_type=Order.MARKET)
        | Q(order_type=Order.LIMIT) & ((buy & Q(limit_price__gte=price)) | (sell & Q(limit_price__lte=price)))
        | Q(order_type=Order.STOP) & (Q(stop_triggered=True) | stop_reached)
        | Q(order_type=Order.STOP_LIMIT) & (Q(stop_triggered=True) | stop_reached)
    )
    orders = Order.objects.filter(symbol=symbol, status__in=RESTING_STATUSES).filter(crosses)
    if settings.ORDER_MODE == "REAL":
        orders = orders.filter(account__is_paper=True)
    return list(orders.order_by("created_at", "id").values_list("id", "account_id"))


def resting_order_match(*, order_id: int, account_id: int, price: Decimal, volume: int) -> bool:
    """Fill one resting order at ``price`` if it crosses; locks account then order. True when it filled."""
    now = timezone.now()
    with transaction.atomic():
        account = Account.objects.select_for_update().get(pk=account_id)
        order = Order.objects.select_for_update().get(pk=order_id)
        if order.status not in RESTING_STATUSES:
            return False
        match = paper_match(
            side=order.side, order_type=order.order_type, limit_price=order.limit_price, stop_price=order.stop_price,
            stop_triggered=order.stop_triggered, remaining=order.remaining_quantity, price=price, resting=True,
            max_quantity=max_fill_quantity(volume), slippage_bps=settings.PAPER_SLIPPAGE_BPS,
        )
        if match.stop_triggered and not order.stop_triggered:
            order.stop_triggered = True
            order.save(update_fields=["stop_triggered", "updated_at"])
        if match.quantity <= 0:
            return False
        fill_apply(account=account, order=order, quantity=match.quantity, price=match.price,
                   commission=_commission(order, match.quantity), executed_at=now)
        return True


def paper_on_ticks(event: PriceTicks) -> int:
    """``PriceTicks`` subscriber ``orders.resting`` (background): fill the resting paper orders the ticks cross."""
    return sum(paper_on_tick(tick) for tick in event.ticks)


def paper_on_tick(tick: Tick) -> int:
    """Fill the resting paper orders one tick crosses. Returns the fill count."""
    if settings.TRADING_HOURS_ONLY and not calendar.is_open(timezone.now()):
        return 0
    filled = 0
    for order_id, account_id in resting_candidates(tick.symbol, tick.price):
        try:
            filled += resting_order_match(order_id=order_id, account_id=account_id, price=tick.price, volume=tick.volume)
        except Exception:  # one broken order must not keep the others from filling
            logger.exception("matching resting order %s on %s failed", order_id, tick.symbol)
    return filled
