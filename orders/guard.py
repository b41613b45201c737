"""OrderSafetyGuard (spec 6.3 plus pre-trade checks): the risk check every order passes before any broker.

``order_submit`` runs it with the account row locked (``select_for_update``), so two
concurrent submits cannot both see "4 orders in the last minute" (no check-then-act race).
``orders/preview`` runs the same rules without writing anything. Rules, in the order a refusal
is reported (the first failing rule names the refusal); every limit passes at exactly its value:

================================  ===========================================================
``account_halted``                the account's trading state is HALTED (only cancels allowed)
``outside_trading_hours``         ``TRADING_HOURS_ONLY`` and the NYSE regular session is not
                                  open (holidays and 13:00 ET half-day closes included; the
                                  open is inclusive, the close exclusive)
``daily_loss_breaker``            the breaker tripped this session, or this order finds
                                  (equity now - previous close equity) / previous close
                                  <= -``MAX_DAILY_LOSS_PCT`` (which trips it)
``rate_limit``                    ``MAX_ORDERS_PER_MINUTE`` non-rejected orders were created in
                                  the last 60 seconds (an order exactly 60 s old no longer counts)
``reducing_only``                 the trading state is REDUCING and the order does not only
                                  shrink the position (open orders on the same side count)
``max_quantity``                  the quantity is above ``MAX_ORDER_QUANTITY``
``price_band``                    the limit price is more than ``PRICE_BAND_REFUSE_PCT`` through
                                  its reference (more than ``PRICE_BAND_WARN_PCT`` only warns);
                                  checked before the size rules so a mistyped limit is named as such
``max_order_pct``                 the exposure the order adds is worth more than
                                  ``MAX_SINGLE_ORDER_PCT`` x equity
``max_order_value``               quantity x reference price is above ``MAX_ORDER_VALUE`` dollars
                                  (the binding size limit of accounts above MAX_ORDER_VALUE /
                                  MAX_SINGLE_ORDER_PCT of equity)
``buying_power``                  the exposure the order adds (plus a buy's estimated commission)
                                  costs more than the account's buying power
================================  ===========================================================

The fat-finger limits (``max_quantity``, ``max_order_value``) apply to every order, closing ones
too: split a very large order. Settings are read by :func:`orders.limits.pretrade_limits`.

Valuation: an order is valued at the highest of the current quote (the last daily close when
there is no quote), its limit price and its stop price (the *reference price*), i.e. the worse of
quote and limit for the size checks. The part of an order that closes an existing position (net of
open orders on the same side) adds no exposure and is not counted by ``max_order_pct`` or
``buying_power``.

Price band: only the side of the reference a limit can trade through is banded — a buy limit
above it, a sell limit below it. A limit order's reference is the current quote (the last close
without one); a stop-limit's is its own stop price, where its limit goes live. A limit behind
the market only rests, so it is never banded. ``through = (limit - ref) / ref`` for a buy and
``(ref - limit) / ref`` for a sell.

Buying power (no leverage): ``equity - gross exposure of the positions at their marks - the
exposure open orders may still add``. A buy pays for what it opens with cash; a short sale is
secured by cash of its full value (its proceeds are credited to cash but stay locked with it), so
gross exposure (longs plus shorts at market) never exceeds equity through new orders. For a
long-only account this is simply cash minus what open buys may spend. Open orders commit their
remaining quantity that does not close a position (oldest first), a buy at the most it can pay
(``max_buy_price``), a sell at its reference price. Closing a position never needs buying power,
so a cover or a sale is never refused for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Sum

from alphaloop.money import ZERO, money, ratio
from marketdata import calendar
from marketdata.selectors import feed_staleness
from orders import selectors
from orders.ledger import adverse_price, order_commission
from orders.limits import PreTradeLimits, pretrade_limits
from orders.models import Account, Order

RATE_WINDOW = timedelta(seconds=60)


@dataclass(frozen=True)
class OrderRequest:
    """A validated, normalized order (what ``order_submit`` and ``preview`` hand to the guard)."""

    symbol: str
    side: str
    quantity: Decimal
    order_type: str
    time_in_force: str
    limit_price: Decimal | None
    stop_price: Decimal | None
    mark: Decimal | None  # current quote, else last close; None when the symbol has neither
    mark_source: str = "quote"  # "quote" or "bar" (the last daily close)


@dataclass(frozen=True)
class CheckResult:
    rule: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GuardWarning:
    """A rule that let the order through but wants the trader to look (stored on the order)."""

    rule: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "detail": self.detail}


@dataclass
class GuardDecision:
    checks: list[CheckResult] = field(default_factory=list)
    warnings: list[GuardWarning] = field(default_factory=list)
    reference_price: Decimal | None = None
    notional: Decimal | None = None
    equity: Decimal | None = None
    order_pct: Decimal | None = None
    buying_power: Decimal | None = None
    previous_close_equity: Decimal | None = None
    daily_pnl_pct: Decimal | None = None
    trip_breaker: bool = False  # the loss check found the limit breached: the caller trips the breaker

    @property
    def refusal(self) -> CheckResult | None:
        return next((c for c in self.checks if not c.passed), None)

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    @property
    def code(self) -> str:
        return self.refusal.rule if self.refusal else ""

    @property
    def reason(self) -> str:
        return self.refusal.detail if self.refusal else ""


def _et(at: datetime) -> str:
    return at.astimezone(ZoneInfo(settings.MARKET_TIME_ZONE)).strftime("%Y-%m-%d %H:%M ET")


def next_open(at: datetime) -> datetime:
    day = at.astimezone(ZoneInfo(settings.MARKET_TIME_ZONE)).date()
    if calendar.is_session(day) and at < calendar.session_open_close(day)[0]:
        return calendar.session_open_close(day)[0]
    return calendar.session_open_close(calendar.next_session(day))[0]


class OrderSafetyGuard:
    def __init__(self, *, now: datetime):
        self.now = now

    def evaluate(self, *, account: Account, request: OrderRequest) -> GuardDecision:
        """Run every rule (so a preview can show them all); the first failure is the refusal."""
        decision = GuardDecision()
        limits = pretrade_limits()
        valuation = selectors.account_valuation(account)
        positions = {row["symbol"]: row for row in valuation["positions"]}
        position = positions[request.symbol]["quantity"] if request.symbol in positions else ZERO
        pending_same_side = open_quantity_on_side(account, request.symbol, request.side)
        closing = closing_quantity(request.side, request.quantity, position, pending_same_side)
        decision.equity = valuation["equity"]
        decision.reference_price = max(p for p in (request.mark, request.limit_price, request.stop_price) if p is not None)
        decision.notional = money(request.quantity * decision.reference_price)
        if decision.equity > 0:
            decision.order_pct = ratio(decision.notional / decision.equity)
        gross = sum((abs(row["market_value"]) for row in valuation["positions"]), ZERO)
        decision.buying_power = decision.equity - gross - open_order_commitments(
            account, {symbol: row["quantity"] for symbol, row in positions.items()}
        )
        decision.checks = [
            self._halted(account),
            self._trading_hours(),
            self._market_data(request),
            self._breaker(account, decision),
            self._rate_limit(account),
            self._reducing_only(account, request, position, pending_same_side, closing),
            self._max_quantity(request, limits),
            self._price_band(request, limits, decision),
            self._order_size(request, decision, closing),
            self._max_order_value(decision, limits),
            self._buying_power(request, decision, closing),
        ]
        return decision

    def _halted(self, account: Account) -> CheckResult:
        if account.trading_state == Account.HALTED:
            return CheckResult("account_halted", False, "The account is halted: only cancels are allowed.")
        return CheckResult("account_halted", True, f"Trading state {account.trading_state}.")

    def _trading_hours(self) -> CheckResult:
        if not settings.TRADING_HOURS_ONLY:
            return CheckResult("outside_trading_hours", True, "TRADING_HOURS_ONLY is off.")
        if calendar.is_open(self.now):
            return CheckResult("outside_trading_hours", True, "The NYSE regular session is open.")
        return CheckResult(
            "outside_trading_hours", False,
            f"The NYSE regular session is closed at {_et(self.now)}; it next opens {_et(next_open(self.now))}.",
        )

    def _market_data(self, request: OrderRequest) -> CheckResult:
        if request.order_type != Order.MARKET:
            return CheckResult("stale_market_data", True, "Only a market order needs a live price.")
        stale = feed_staleness(self.now)
        if stale is None:
            return CheckResult("stale_market_data", True, "The market data is current (or no live feed is expected).")
        return CheckResult(
            "stale_market_data", False,
            f"{stale.describe()}: a market order would trade at a price AlphaLoop cannot see. Market orders are "
            "refused until ticks resume; a limit order may still rest.",
        )

    def _breaker(self, account: Account, decision: GuardDecision) -> CheckResult:
        session = calendar.current_session(self.now)
        limit = settings.MAX_DAILY_LOSS_PCT
        if selectors.breaker_active(account, at=self.now):
            return CheckResult(
                "daily_loss_breaker", False,
                f"The daily-loss breaker tripped at {_et(account.breaker_tripped_at or self.now)}; "
                f"orders are refused until the next session opens ({_et(next_open(self.now))}).",
            )
        equity, previous, pct = selectors.daily_pnl_pct(account, at=self.now, equity=decision.equity)
        decision.previous_close_equity, decision.daily_pnl_pct = previous, pct
        if pct is None:
            return CheckResult("daily_loss_breaker", True, "No previous close equity to measure a daily loss against.")
        if account.breaker_override_session == session:
            return CheckResult("daily_loss_breaker", True, f"Daily P&L {pct:.2%}; the breaker was reset by an admin this session.")
        if pct < 0 and pct <= -limit:
            decision.trip_breaker = True
            return CheckResult(
                "daily_loss_breaker", False,
                f"Daily loss {pct:.2%} of the previous close equity {previous} reached the {limit:.2%} limit: "
                f"the breaker trips and orders are refused until the next session opens ({_et(next_open(self.now))}).",
            )
        return CheckResult("daily_loss_breaker", True, f"Daily P&L {pct:.2%} against a -{limit:.2%} limit.")

    def _rate_limit(self, account: Account) -> CheckResult:
        limit = settings.MAX_ORDERS_PER_MINUTE
        recent = (
            Order.objects.filter(account=account, created_at__gt=self.now - RATE_WINDOW)
            .exclude(status=Order.REJECTED)
            .count()
        )
        if recent >= limit:
            return CheckResult("rate_limit", False, f"{recent} orders in the last 60 seconds; the limit is {limit} per minute.")
        return CheckResult("rate_limit", True, f"{recent} of {limit} orders used in the last 60 seconds.")

    @staticmethod
    def _reducing_only(account: Account, request: OrderRequest, position: Decimal, pending: Decimal, closing: Decimal) -> CheckResult:
        if account.trading_state != Account.REDUCING:
            return CheckResult("reducing_only", True, "The account may open positions.")
        if closing == request.quantity:
            return CheckResult("reducing_only", True, "The order only reduces the position.")
        return CheckResult(
            "reducing_only", False,
            f"The account is in reducing-only mode: with {position} {request.symbol} held and {pending} pending on this "
            f"side, a {request.side} of {request.quantity} would not only shrink the position.",
        )

    @staticmethod
    def _max_quantity(request: OrderRequest, limits: PreTradeLimits) -> CheckResult:
        limit = limits.max_order_quantity
        if not limit:
            return CheckResult("max_quantity", True, "MAX_ORDER_QUANTITY is off.")
        if request.quantity <= limit:
            return CheckResult("max_quantity", True, f"Quantity {request.quantity} within the {limit} per-order limit.")
        return CheckResult(
            "max_quantity", False,
            f"Quantity {request.quantity} is more than the {limit} one order may ask for (MAX_ORDER_QUANTITY); split it.",
        )

    @staticmethod
    def _max_order_value(decision: GuardDecision, limits: PreTradeLimits) -> CheckResult:
        limit = limits.max_order_value
        if not limit:
            return CheckResult("max_order_value", True, "MAX_ORDER_VALUE is off.")
        if decision.notional <= limit:
            return CheckResult("max_order_value", True, f"Worth {decision.notional}, within the {money(limit)} per-order limit.")
        return CheckResult(
            "max_order_value", False,
            f"The order is worth {decision.notional} at {decision.reference_price}, more than the {money(limit)} "
            "one order may be worth (MAX_ORDER_VALUE); split it.",
        )

    @staticmethod
    def _price_band(request: OrderRequest, limits: PreTradeLimits, decision: GuardDecision) -> CheckResult:
        if request.order_type not in (Order.LIMIT, Order.STOP_LIMIT):
            return CheckResult("price_band", True, "No limit price to band.")
        if request.order_type == Order.STOP_LIMIT:
            reference, name = request.stop_price, "its stop price"
        else:
            reference, name = request.mark, ("the quote" if request.mark_source == "quote" else "the last close")
        if reference is None:
            return CheckResult("price_band", True, "No quote or daily close to band the limit price against.")
        buy = request.side == Order.BUY
        through = (request.limit_price - reference) / reference if buy else (reference - request.limit_price) / reference
        where = "above" if buy else "below"
        text = f"The {request.side.lower()} limit {request.limit_price} is {through:.2%} {where} {name} {reference}"
        refuse, warn = limits.price_band_refuse_pct, limits.price_band_warn_pct
        if refuse and through > refuse:
            return CheckResult("price_band", False, f"{text}, more than the {refuse:.2%} band (PRICE_BAND_REFUSE_PCT).")
        if warn and through > warn:
            detail = f"{text}, more than {warn:.2%}: check the price before it trades that far through the market."
            decision.warnings.append(GuardWarning("price_band", detail))
            return CheckResult("price_band", True, detail)
        if through <= 0:
            return CheckResult("price_band", True, f"The {request.side.lower()} limit {request.limit_price} is not {where} "
                                                   f"{name} {reference}: it rests behind the market.")
        return CheckResult("price_band", True, f"{text}, within the band.")

    @staticmethod
    def _order_size(request: OrderRequest, decision: GuardDecision, closing: Decimal) -> CheckResult:
        reference, equity = decision.reference_price, decision.equity
        opening = request.quantity - closing
        limit_pct = settings.MAX_SINGLE_ORDER_PCT
        exposure = opening * reference
        if equity <= 0:
            if opening == 0:
                return CheckResult("max_order_pct", True, "The order only closes an existing position.")
            return CheckResult("max_order_pct", False, f"Equity is {equity}: no order that adds exposure is allowed.")
        allowed = limit_pct * equity
        if exposure <= allowed:
            return CheckResult(
                "max_order_pct", True,
                f"Adds {money(exposure)} of exposure at {reference}, within {limit_pct:.2%} of equity {equity} ({money(allowed)}).",
            )
        return CheckResult(
            "max_order_pct", False,
            f"The order adds {money(exposure)} of exposure ({opening} x {reference}), more than {limit_pct:.2%} "
            f"of equity {equity} ({money(allowed)}).",
        )

    @staticmethod
    def _buying_power(request: OrderRequest, decision: GuardDecision, closing: Decimal) -> CheckResult:
        opening = request.quantity - closing
        if opening == 0:
            return CheckResult("buying_power", True, "The order only closes a position: it needs no buying power.")
        if request.side == Order.BUY:
            price = max_buy_price(request.order_type, request.limit_price, request.stop_price, request.mark)
        else:
            price = decision.reference_price
        cost = money(opening * price) + order_commission(
            request.quantity, settings.PAPER_COMMISSION_PER_SHARE, settings.PAPER_COMMISSION_MIN
        )
        power = decision.buying_power
        what = "buy" if request.side == Order.BUY else "short sale"
        if cost <= power:
            return CheckResult("buying_power", True, f"The {what} of {opening} needs about {cost}; buying power {power}.")
        return CheckResult(
            "buying_power", False,
            f"The {what} of {opening} at about {price} needs {cost} (commission included), more than the buying power "
            f"{power} (equity less the positions held and what open orders may add).",
        )


def closing_quantity(side: str, quantity: Decimal, position: Decimal, pending_same_side: Decimal) -> Decimal:
    """How much of an order closes the existing position (net of open orders on its side already closing it)."""
    opposes = (position > 0 and side == Order.SELL) or (position < 0 and side == Order.BUY)
    if not opposes:
        return ZERO
    return max(ZERO, min(quantity, abs(position) - pending_same_side))


def max_buy_price(order_type: str, limit: Decimal | None, stop: Decimal | None, mark: Decimal | None) -> Decimal:
    """The most a buy can pay per share: its limit, else the market (above the stop) plus slippage."""
    if order_type in (Order.LIMIT, Order.STOP_LIMIT):
        return limit
    reference = max(p for p in (mark, stop) if p is not None)
    return adverse_price(reference, Order.BUY, settings.PAPER_SLIPPAGE_BPS)


def open_order_commitments(account: Account, positions: dict[str, Decimal]) -> Decimal:
    """The exposure the account's open orders may still add, in cents (see "Buying power" above).

    Per symbol, the oldest open orders on the side that closes the position close it first; what
    remains of every open order opens exposure: a buy at ``max_buy_price``, a sell at the highest
    of mark, limit and stop.
    """
    rows = list(
        Order.objects.filter(account=account, status__in=Order.OPEN_STATUSES)
        .order_by("created_at", "id")
        .values_list("symbol", "side", "order_type", "quantity", "filled_quantity", "limit_price", "stop_price")
    )
    if not rows:
        return ZERO
    marks = selectors.price_marks(sorted({row[0] for row in rows}))
    closable = {symbol: abs(quantity) for symbol, quantity in positions.items()}
    total = ZERO
    for symbol, side, order_type, quantity, filled, limit, stop in rows:
        remaining = quantity - filled
        held = positions.get(symbol, ZERO)
        if (held > 0 and side == Order.SELL) or (held < 0 and side == Order.BUY):
            closes = min(remaining, closable[symbol])
            closable[symbol] -= closes
            remaining -= closes
        mark = marks.get(symbol, (None,))[0]
        prices = [p for p in (mark, limit, stop) if p is not None]
        if remaining <= 0 or not prices:
            continue
        price = max_buy_price(order_type, limit, stop, mark) if side == Order.BUY else max(prices)
        total += money(remaining * price)
    return total


def open_quantity_on_side(account: Account, symbol: str, side: str) -> Decimal:
    """Remaining quantity of the account's open orders on ``symbol`` and ``side``."""
    totals = Order.objects.filter(account=account, symbol=symbol, side=side, status__in=Order.OPEN_STATUSES).aggregate(
        quantity=Sum("quantity"), filled=Sum("filled_quantity")
    )
    return (totals["quantity"] or ZERO) - (totals["filled"] or ZERO)
