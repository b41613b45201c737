"""A year of demo trading for an account, booked through the real order ledger.

Every demo trade is an Order filled with ``orders.fills.fill_record`` at a historical time, so
positions, cash, FIFO attribution, journal drafts and equity snapshots all come from the same
code paths as live trading. Prices are the synthetic demo bars; the trades are random (seeded),
not advice.
"""

from __future__ import annotations

import contextlib
import random
from datetime import datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction

from alerts.services import alert_create
from equity.services import equity_snapshots_backfill
from factors.services import signals_run
from marketdata import calendar
from marketdata.models import Bar
from notifications.models import NotificationPreference
from notifications.selectors import EVENT_TYPES
from orders.fills import fill_record
from orders.ledger import order_commission
from orders.models import Account, Order
from orders.plans import plan_create

STRATEGIES = [("momentum", "mom_12_1"), ("mean_reversion", "rsi_14"), ("breakout", "roc_20"), ("discretionary", "")]
SESSIONS = 260
MAX_OPEN = 5
POSITION_FRACTION = Decimal("0.08")


@contextlib.contextmanager
def notifications_muted(user):
    """Booking a year of history should not notify the user of every fill it replays."""
    existing = {p.event_type for p in NotificationPreference.objects.filter(user=user)}
    added = [NotificationPreference(user=user, event_type=e, channels=[]) for e in EVENT_TYPES if e not in existing]
    NotificationPreference.objects.bulk_create(added)
    try:
        yield
    finally:
        NotificationPreference.objects.filter(user=user, event_type__in=[p.event_type for p in added]).delete()


def _at(day, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=ZoneInfo(settings.MARKET_TIME_ZONE))


def _book(account: Account, *, key: str, symbol: str, side: str, quantity: Decimal, price: Decimal, at: datetime,
          tags: tuple[str, str]) -> None:
    order = Order.objects.create(
        account=account, client_order_id=f"demo-{key}", symbol=symbol, side=side, order_type=Order.MARKET,
        quantity=quantity, status=Order.ACCEPTED, source="STRATEGY", strategy_tag=tags[0], factor_tag=tags[1],
        accepted_at=at,
    )
    Order.objects.filter(pk=order.pk).update(created_at=at)
    commission = order_commission(quantity, settings.PAPER_COMMISSION_PER_SHARE, settings.PAPER_COMMISSION_MIN)
    fill_record(order_id=order.pk, quantity=quantity, price=price, commission=commission, executed_at=at,
                external_id=f"demo-{key}")


def demo_history_seed(*, account: Account, seed: int = 7, sessions: int = SESSIONS) -> dict:
    """Book about a year of random trades on the demo universe, then rebuild snapshots and signals."""
    if account.orders.exists():
        return {"trades": 0, "skipped": "the account already has orders"}
    rng = random.Random(seed)
    last = Bar.objects.filter(instrument__symbol="SPY").order_by("-date").values_list("date", flat=True).first()
    if last is None:
        return {"trades": 0, "skipped": "no demo bars"}
    days = calendar.sessions_between(last - timedelta(days=sessions * 2), last)[-sessions:]
    symbols = sorted(set(Bar.objects.filter(date=days[0]).exclude(instrument__symbol="SPY")
                         .values_list("instrument__symbol", flat=True)))
    bars = {(s, d): (o, c) for s, d, o, c in Bar.objects.filter(date__gte=days[0], instrument__symbol__in=symbols)
            .values_list("instrument__symbol", "date", "open", "close")}
    open_trades: list[dict] = []
    trades = 0
    with notifications_muted(account.user):
        for index, day in enumerate(days):
            for trade in [t for t in open_trades if t["exit"] == index]:
                close = bars[(trade["symbol"], day)][1]
                side = Order.SELL if trade["side"] == Order.BUY else Order.BUY
                _book(account, key=f"{trade['n']}-exit", symbol=trade["symbol"], side=side, quantity=trade["qty"],
                      price=close, at=_at(day, 15, 55), tags=trade["tags"])
                open_trades.remove(trade)
            held = {t["symbol"] for t in open_trades}
            if len(open_trades) < MAX_OPEN and rng.random() < 0.35 and index < len(days) - 1:
                symbol = rng.choice([s for s in symbols if s not in held])
                price = bars[(symbol, day)][0]
                qty = (account.initial_cash * POSITION_FRACTION / price).quantize(Decimal("1"), rounding=ROUND_DOWN)
                side = Order.BUY if rng.random() < 0.75 else Order.SELL
                hold = rng.randint(3, 25)
                trades += 1
                trade = {"n": trades, "symbol": symbol, "side": side, "qty": qty, "tags": rng.choice(STRATEGIES),
                         "exit": index + hold if index + hold < len(days) - 2 else None}
                _book(account, key=f"{trades}-entry", symbol=symbol, side=side, quantity=qty, price=price,
                      at=_at(day, 10, 0), tags=trade["tags"])
                open_trades.append(trade)
    snapshots = equity_snapshots_backfill(account=account, start=days[0], end=days[-1])
    with transaction.atomic():
        signals = signals_run(as_of=days[-1], notify=False)
        _demo_plans_and_alerts(account, symbols, bars, days[-1])
    return {"trades": trades, "open": len(open_trades), "snapshots": len(snapshots), "signals": len(signals)}


def _demo_plans_and_alerts(account: Account, symbols: list[str], bars: dict, day) -> None:
    picks = symbols[:3]
    for n, symbol in enumerate(picks):
        close = bars[(symbol, day)][1]
        entry = (close * Decimal("0.995")).quantize(Decimal("0.01"))
        plan = plan_create(account=account, symbol=symbol, direction="LONG", entry_price=entry,
                           stop_price=(entry * Decimal("0.95")).quantize(Decimal("0.01")),
                           target_price=(entry * Decimal("1.10")).quantize(Decimal("0.01")),
                           quantity=Decimal("10"), strategy_tag="momentum", notes="Demo plan: buy a small pullback.")
        alert_create(account=account, symbol=symbol, condition_type="price_above",
                     threshold=(close * Decimal("1.02")).quantize(Decimal("0.01")), note="Demo alert: +2% breakout",
                     action="request_approval" if n == 0 else "notify", linked_plan=plan if n == 0 else None)
    alert_create(account=account, symbol=picks[0], condition_type="rsi_cross", threshold=Decimal("30"),
                 direction="down", note="Demo alert: RSI-14 falls through 30")
