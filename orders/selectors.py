"""Reads of the orders domain: valuation, the breaker's reference equity, plan outcomes, exposure.

Marks: a position is valued at the latest quote of its symbol, else the last daily bar's
close, else its own average cost (an option contract without market data is carried at cost).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from alphaloop.money import RATIO_PLACES, ZERO, money
from marketdata import calendar
from marketdata.models import Bar, Instrument, Quote
from orders import greeks
from orders.brokers import routes_to_paper
from orders.models import Account, BrokerMismatch, BrokerSync, Fill, Order, Position, TradingPlan

PCT_PLACES = Decimal("0.0001")


def price_marks(symbols: list[str]) -> dict[str, tuple[Decimal, str]]:
    """symbol -> (price, source) with source ``quote`` or ``bar``; symbols without data are absent."""
    if not symbols:
        return {}
    marks = {
        symbol: (price, "quote")
        for symbol, price in Quote.objects.filter(instrument__symbol__in=symbols).values_list("instrument__symbol", "price")
    }
    missing = [s for s in symbols if s not in marks]
    if missing:
        marks.update({s: (p, "bar") for s, p in last_closes(missing).items()})
    return marks


def last_closes(symbols: list[str], on_or_before: date | None = None) -> dict[str, Decimal]:
    """symbol -> the close of its last daily bar (on or before a date); one query."""
    bars = Bar.objects.filter(instrument=OuterRef("pk"))
    if on_or_before is not None:
        bars = bars.filter(date__lte=on_or_before)
    rows = Instrument.objects.filter(symbol__in=symbols).annotate(
        last_close=Subquery(bars.order_by("-date").values("close")[:1])
    ).values_list("symbol", "last_close")
    return {symbol: close for symbol, close in rows if close is not None}


def mark_price(symbol: str) -> Decimal | None:
    mark = price_marks([symbol]).get(symbol)
    return mark[0] if mark else None


def open_positions(account: Account) -> QuerySet[Position]:
    return Position.objects.filter(account=account).exclude(quantity=0).order_by("symbol")


def broker_books(account: Account) -> BrokerSync | None:
    """REAL mode: the broker's figures of an account that trades at a real broker, once a reconciliation read them.

    The dashboard, the daily-loss breaker and the equity snapshot value such an account from the broker's cash
    and positions (``orders.reconciliation``); paper accounts (and every account in PAPER mode) from the ledger.
    """
    if routes_to_paper(account):
        return None
    return BrokerSync.objects.filter(account_id=account.pk, cash__isnull=False).first()


def broker_positions(sync: BrokerSync, account: Account) -> list[Position]:
    """The broker's positions as last reconciled, as unsaved ``Position`` rows (stocks; cost basis in cents)."""
    rows = []
    for row in sync.positions:
        quantity, avg_cost = Decimal(row["quantity"]), Decimal(row["avg_cost"])
        rows.append(Position(account=account, symbol=row["symbol"], quantity=quantity, avg_cost=avg_cost,
                             cost_basis=money(quantity * avg_cost)))
    return rows


def valued_positions(account: Account) -> list[Position]:
    """The positions equity is computed from: the broker's (REAL mode, reconciled), else the ledger's."""
    books = broker_books(account)
    return broker_positions(books, account) if books is not None else list(open_positions(account))


@dataclass(frozen=True)
class Book:
    """An account's open positions and the marks of their symbols and underlyings, read once.

    Valuation and exposure both need them; the dashboard computes both from one ``Book``.
    """

    positions: list[Position]
    marks: dict[str, tuple[Decimal, str]]


def book_load(account: Account, *, extra_symbols: Iterable[str] = ()) -> Book:
    """Open positions and one price read for their symbols, underlyings and ``extra_symbols``."""
    return book_read(valued_positions(account), extra_symbols=extra_symbols)


def book_read(positions: list[Position], *, extra_symbols: Iterable[str] = ()) -> Book:
    """Positions already read, with one price read for their symbols, underlyings and ``extra_symbols``."""
    symbols = {p.symbol for p in positions} | {p.underlying for p in positions if p.underlying} | set(extra_symbols)
    return Book(positions=positions, marks=price_marks(sorted(symbols)))


def account_positions_valued(account: Account, *, book: Book | None = None) -> list[dict]:
    """Every non-flat position with its mark, market value and unrealized P&L (money in cents)."""
    book = book or book_load(account)
    rows = []
    for p in book.positions:
        price, source = book.marks.get(p.symbol, (p.avg_cost, "cost"))
        market_value = money(p.quantity * price * p.multiplier)
        cost_basis = p.book_cost
        rows.append({
            "symbol": p.symbol,
            "asset_type": p.asset_type,
            "underlying": p.underlying,
            "quantity": p.quantity,
            "avg_cost": p.avg_cost,
            "price": price,
            "price_source": source,
            "multiplier": p.multiplier,
            "market_value": market_value,
            "cost_basis": cost_basis,
            "unrealized_pnl": market_value - cost_basis,
            "realized_pnl": p.realized_pnl,
            "option_right": p.option_right,
            "strike": p.strike,
            "expiry": p.expiry,
        })
    return rows


def account_valuation(account: Account, *, book: Book | None = None, cash: Decimal | None = None) -> dict:
    """cash, market_value, equity, unrealized_pnl and the valued positions in one read."""
    positions = account_positions_valued(account, book=book)
    market_value = sum((row["market_value"] for row in positions), ZERO)
    cash = stored_cash(account) if cash is None else cash
    return {
        "account_id": account.pk,
        "cash": cash,
        "market_value": market_value,
        "equity": cash + market_value,
        "unrealized_pnl": sum((row["unrealized_pnl"] for row in positions), ZERO),
        "positions": positions,
    }


def stored_cash(account: Account) -> Decimal:
    """Cash as committed now (an ``Account`` instance held across a fill would be stale); in REAL mode the broker's
    cash at the last reconciliation."""
    books = broker_books(account)
    if books is not None:
        return books.cash
    return Account.objects.values_list("cash", flat=True).get(pk=account.pk)


def account_equity(account: Account) -> Decimal:
    """Cash plus every position at its mark (quote, else last close, else cost), in cents."""
    return account_valuation(account)["equity"]


def breaker_reference_session(at: datetime) -> date:
    """The session whose close the daily loss is measured from: the one before the session we are in."""
    return calendar.previous_session(calendar.current_session(at))


def previous_close_equity(account: Account, *, at: datetime | None = None) -> Decimal:
    """Equity at the close of the previous session (the breaker's reference).

    1. The account's ``EquitySnapshot`` for that session, when the snapshot job wrote one.
    2. Otherwise reconstructed from the current books by undoing every fill executed after that
       session's close: cash minus their cash flows, quantities minus their signed sizes, and the
       resulting positions valued at that session's daily close (their average cost when a symbol
       has no bar). Cash moved outside the order path since that close counts as today's P&L.
    """
    at = at or timezone.now()
    session = breaker_reference_session(at)
    snapshot_model = apps.get_model("equity", "EquitySnapshot")
    snapshot = snapshot_model.objects.filter(account=account, snapshot_date=session).values_list("total_equity", flat=True).first()
    if snapshot is not None:
        return snapshot
    close_at = calendar.session_open_close(session)[1]
    positions = {p.symbol: p for p in Position.objects.filter(account=account)}
    quantities = {symbol: p.quantity for symbol, p in positions.items()}
    # Summed in Python: SQLite adds DECIMAL columns as floats (SUM(cash_flow) of -10005.55 and 9978.38
    # comes back as -27.1700000000001), which would leak sub-cent noise into the breaker's reference.
    later = Fill.objects.filter(account=account, executed_at__gt=close_at).values_list("symbol", "side", "quantity", "cash_flow")
    cash = stored_cash(account)
    for symbol, side, quantity, cash_flow in later:
        cash -= cash_flow
        quantities[symbol] = quantities.get(symbol, ZERO) - (quantity if side == Order.BUY else -quantity)
    held = [s for s, q in quantities.items() if q != 0]
    closes = last_closes(held, on_or_before=session)
    value = ZERO
    for symbol in held:
        position = positions.get(symbol)
        price = closes.get(symbol, position.avg_cost if position else ZERO)
        value += money(quantities[symbol] * price * (position.multiplier if position else 1))
    return cash + value


def daily_pnl_pct(account: Account, *, at: datetime | None = None, equity: Decimal | None = None) -> tuple[Decimal, Decimal, Decimal | None]:
    """(equity now, previous close equity, (now - prev) / prev or None when prev <= 0)."""
    at = at or timezone.now()
    equity = account_equity(account) if equity is None else equity
    previous = previous_close_equity(account, at=at)
    if previous <= 0:
        return equity, previous, None
    return equity, previous, ((equity - previous) / previous).quantize(RATIO_PLACES)


def breaker_active(account: Account, *, at: datetime | None = None) -> bool:
    """Has the daily-loss breaker tripped in the session we are in (and not been reset)?"""
    at = at or timezone.now()
    return account.breaker_session is not None and account.breaker_session == calendar.current_session(at)


def plan_execution_rate(account: Account) -> Decimal | None:
    """Share of decided plans that were executed: EXECUTED / (EXECUTED + EXPIRED + CANCELLED).

    PENDING and ACTIVE plans are still undecided and do not count. ``None`` when no plan has
    been decided yet. A fraction (0.75 = 75%), to 4 places.
    """
    counts = TradingPlan.objects.filter(account=account).aggregate(
        executed=Count("id", filter=Q(status=TradingPlan.EXECUTED)),
        decided=Count("id", filter=Q(status__in=[TradingPlan.EXECUTED, TradingPlan.EXPIRED, TradingPlan.CANCELLED])),
    )
    if not counts["decided"]:
        return None
    return (Decimal(counts["executed"]) / Decimal(counts["decided"])).quantize(PCT_PLACES)


def orders_for_account(account: Account) -> QuerySet[Order]:
    return Order.objects.filter(account=account).order_by("-created_at", "-id")


def open_orders(account: Account) -> QuerySet[Order]:
    return orders_for_account(account).filter(status__in=Order.OPEN_STATUSES)


def _years_to_expiry(expiry: date, today: date) -> float:
    return (expiry - today).days / greeks.DAYS_PER_YEAR


def portfolio_exposure(account: Account, *, at: datetime | None = None, book: Book | None = None,
                       equity: Decimal | None = None) -> dict:
    """Greeks of the account aggregated to dollars and to percent of equity (the dashboard's ``exposure``).

    Stocks contribute delta 1 per share. Options use Black-Scholes on the underlying's mark, the
    position's strike, expiry, implied vol and ``RISK_FREE_RATE``. Dollar units are those of
    :mod:`orders.greeks`: delta $ = stock-equivalent exposure, gamma $ = change of delta $ for a
    1% move, vega $ per vol point, theta $ per calendar day. ``*_pct`` = dollars / equity x 100
    (percent points: 45.5 means 45.5% of equity), 4 places. Options lacking an implied vol, strike,
    expiry or underlying price are listed in ``unpriced`` and contribute nothing. ``book`` and
    ``equity``, when given, save reading them again.
    """
    at = at or timezone.now()
    today = timezone.localtime(at, ZoneInfo(settings.MARKET_TIME_ZONE)).date()
    book = book or book_load(account)
    equity = account_valuation(account, book=book)["equity"] if equity is None else equity
    positions, marks = book.positions, book.marks
    rate = float(settings.RISK_FREE_RATE)
    totals = {"delta": 0.0, "gamma": 0.0, "vega": 0.0, "theta": 0.0}
    rows, unpriced = [], []
    for p in positions:
        quantity = float(p.quantity)
        if p.is_option:
            spot_mark = marks.get(p.underlying)
            if not (spot_mark and p.strike and p.expiry and p.implied_vol and p.option_right):
                unpriced.append(p.symbol)
                continue
            spot = float(spot_mark[0])
            g = greeks.black_scholes(spot=spot, strike=float(p.strike), years=_years_to_expiry(p.expiry, today),
                                     rate=rate, vol=float(p.implied_vol), right=p.option_right)
        else:
            mark = marks.get(p.symbol)
            spot = float(mark[0] if mark else p.avg_cost)
            g = greeks.Greeks(price=spot, delta=1.0, gamma=0.0, vega=0.0, theta=0.0)
        exposure = greeks.position_exposure(g, quantity=quantity, multiplier=p.multiplier, spot=spot)
        totals["delta"] += exposure.delta_dollars
        totals["gamma"] += exposure.gamma_dollars
        totals["vega"] += exposure.vega_dollars
        totals["theta"] += exposure.theta_dollars
        rows.append({
            "symbol": p.symbol, "asset_type": p.asset_type, "quantity": p.quantity,
            "underlying_price": _dec(spot, RATIO_PLACES),
            "delta": _dec(g.delta, RATIO_PLACES), "gamma": _dec(g.gamma, RATIO_PLACES),
            "vega": _dec(g.vega, RATIO_PLACES), "theta": _dec(g.theta, RATIO_PLACES),
            "delta_dollars": _dec(exposure.delta_dollars), "gamma_dollars": _dec(exposure.gamma_dollars),
            "vega_dollars": _dec(exposure.vega_dollars), "theta_dollars": _dec(exposure.theta_dollars),
        })
    result = {"equity": equity, "positions": rows, "unpriced": unpriced}
    for name, dollars in totals.items():
        result[f"{name}_dollars"] = _dec(dollars)
        result[f"{name}_pct"] = _dec(dollars / float(equity) * 100.0, PCT_PLACES) if equity > 0 else ZERO.quantize(PCT_PLACES)
    return result


def _dec(value: float, places: Decimal = Decimal("0.01")) -> Decimal:
    return Decimal(repr(value)).quantize(places)


# --- the market session as the order ticket sees it ---------------------------------------------------------

def _clock(at: datetime) -> str:
    return f"{at:%H:%M} ET"


def _when(at: datetime, today: date) -> str:
    """'at 09:30 ET' today, 'on Fri 27 Nov at 09:30 ET' another day (``at`` in ET)."""
    return f"at {_clock(at)}" if at.date() == today else f"on {at:%a} {at.day} {at:%b} at {_clock(at)}"


def market_session_get(*, at: datetime | None = None) -> dict:
    """The NYSE session state (``marketdata.calendar.session_state``) in words, and whether orders pass
    the trading-hours rule (``TRADING_HOURS_ONLY``) now."""
    now = calendar.session_state(at)
    today = now.at.date()
    next_open = _when(now.next_open, today)
    if now.next_session_early_close:
        next_open += f" (half day, closes {_clock(calendar.regular_hours(now.next_open.date())[1])})"
    if now.state == calendar.OPEN:
        detail = f"Open{' (half day)' if now.early_close else ''}: the regular session closes at {_clock(now.closes_at)}."
    elif now.state == calendar.PRE_MARKET:
        detail = f"Pre-market: the regular session opens {next_open}."
    elif now.state == calendar.AFTER_HOURS:
        detail = f"After-hours: the regular session closed at {_clock(now.closes_at)}; it next opens {next_open}."
    else:
        detail = f"Closed{f' ({now.holiday})' if now.holiday else ''}: the regular session next opens {next_open}."
    if not settings.TRADING_HOURS_ONLY:
        accepted, orders_detail = True, "TRADING_HOURS_ONLY is off: orders are accepted at any hour."
    elif now.is_open:
        accepted, orders_detail = True, f"Orders are accepted until the close at {_clock(now.closes_at)}."
    else:
        accepted = False
        orders_detail = f"Orders are refused until the regular session opens {_when(now.next_open, today)} (outside_trading_hours)."
    return {
        "state": now.state, "label": now.label, "detail": detail, "time_zone": settings.MARKET_TIME_ZONE,
        "at": now.at, "session": now.session, "opens_at": now.opens_at, "closes_at": now.closes_at,
        "early_close": now.early_close, "holiday": now.holiday, "next_open": now.next_open,
        "next_close": now.next_close, "next_session_early_close": now.next_session_early_close,
        "changes_at": now.changes_at, "orders_accepted": accepted, "orders_detail": orders_detail,
    }


# --- where the account trades, as the navbar and the Orders page say it ------------------------------------------

def trading_venue(account: Account | None) -> dict:
    """``{"label", "css"}``: PAPER (AlphaLoop's simulator), ALPACA PAPER (Alpaca's paper endpoint, simulated money)
    or ALPACA LIVE (real money); another real adapter is named by its broker name."""
    if account is None or routes_to_paper(account):
        return {"label": "PAPER", "css": "paper"}
    if settings.REAL_BROKER_ADAPTER == settings.BROKER_ADAPTERS["alpaca"]:
        return ({"label": "ALPACA PAPER", "css": "alpaca-paper"} if settings.ALPACA_PAPER
                else {"label": "ALPACA LIVE", "css": "live"})
    return {"label": f"{settings.REAL_BROKER_ADAPTER.rsplit('.', 1)[-1].upper()} LIVE", "css": "live"}


def broker_panel(account: Account) -> dict | None:
    """The Orders page's broker panel: connection, last reconciliation, open mismatches (None for paper trading)."""
    if routes_to_paper(account):
        return None
    sync = BrokerSync.objects.filter(account_id=account.pk).first()
    return {
        "venue": trading_venue(account),
        "sync": sync,
        "mismatches": list(BrokerMismatch.objects.filter(account=account, resolved_at__isnull=True)
                           .order_by("-detected_at", "-id")[:20]),
        "reconcile_seconds": settings.BROKER_RECONCILE_SECONDS,
        "action": settings.BROKER_MISMATCH_ACTION,
    }
