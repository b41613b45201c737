"""OrderSafetyGuard (spec 6.3): the pre-trade risk check every order passes before any broker.

``order_submit`` runs it with the account row locked (``select_for_update``), so two
concurrent submits cannot both see "4 orders in the last minute" (no check-then-act race).
``orders/preview`` runs the same rules without writing anything. Rules, in the order a refusal
is reported (the first failing rule names the refusal):

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
``max_order_pct``                 the exposure the order adds is worth more than
                                  ``MAX_SINGLE_ORDER_PCT`` x equity; exactly the limit passes
``insufficient_cash``             a buy (plus open buys and estimated commission) costs more
                                  than the account's cash
================================  ===========================================================

Valuation: an order is valued at the highest of the current quote (the last daily close when
there is no quote), its limit price and its stop price, i.e. the worse of quote and limit for
the size check. The part of an order that closes an existing position (net of open orders on the
same side) adds no exposure and is not counted by ``max_order_pct``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Sum

from marketdata import calendar
from orders import selectors
from orders.ledger import ZERO, adverse_price, money, order_commission
from orders.models import Account, Order, Position

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


@dataclass(frozen=True)
class CheckResult:
    rule: str
    passed: bool
    detail: str


@dataclass
class GuardDecision:
    checks: list[CheckResult] = field(default_factory=list)
    reference_price: Decimal | None = None
    notional: Decimal | None = None
    equity: Decimal | None = None
    order_pct: Decimal | None = None
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
        position = Position.objects.filter(account=account, symbol=request.symbol).values_list("quantity", flat=True).first() or ZERO
        pending_same_side = open_quantity_on_side(account, request.symbol, request.side)
        decision.equity = selectors.account_equity(account)
        decision.checks = [
            self._halted(account),
            self._trading_hours(),
            self._breaker(account, decision),
            self._rate_limit(account),
            self._reducing_only(account, request, position, pending_same_side),
            self._order_size(request, decision, position, pending_same_side),
            self._cash(account, request),
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
    def _closing_quantity(request: OrderRequest, position: Decimal, pending_same_side: Decimal) -> Decimal:
        """How much of the order closes the existing position (net of open orders already closing it)."""
        opposes = (position > 0 and request.side == Order.SELL) or (position < 0 and request.side == Order.BUY)
        if not opposes:
            return ZERO
        return max(ZERO, min(request.quantity, abs(position) - pending_same_side))

    def _reducing_only(self, account: Account, request: OrderRequest, position: Decimal, pending: Decimal) -> CheckResult:
        if account.trading_state != Account.REDUCING:
            return CheckResult("reducing_only", True, "The account may open positions.")
        if self._closing_quantity(request, position, pending) == request.quantity:
            return CheckResult("reducing_only", True, "The order only reduces the position.")
        return CheckResult(
            "reducing_only", False,
            f"The account is in reducing-only mode: with {position} {request.symbol} held and {pending} pending on this "
            f"side, a {request.side} of {request.quantity} would not only shrink the position.",
        )

    def _order_size(self, request: OrderRequest, decision: GuardDecision, position: Decimal, pending: Decimal) -> CheckResult:
        prices = [p for p in (request.mark, request.limit_price, request.stop_price) if p is not None]
        reference = max(prices)
        opening = request.quantity - self._closing_quantity(request, position, pending)
        decision.reference_price = reference
        decision.notional = money(request.quantity * reference)
        equity = decision.equity
        limit_pct = settings.MAX_SINGLE_ORDER_PCT
        exposure = opening * reference
        if equity > 0:
            decision.order_pct = (decision.notional / equity).quantize(Decimal("0.000001"))
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

    def _cash(self, account: Account, request: OrderRequest) -> CheckResult:
        if request.side != Order.BUY:
            return CheckResult("insufficient_cash", True, "Sells do not spend cash.")
        price = max_buy_price(request.order_type, request.limit_price, request.stop_price, request.mark)
        cost = money(request.quantity * price) + order_commission(
            request.quantity, settings.PAPER_COMMISSION_PER_SHARE, settings.PAPER_COMMISSION_MIN
        )
        committed = self._open_buy_commitments(account)
        if cost + committed <= account.cash:
            return CheckResult("insufficient_cash", True, f"Costs about {cost}; cash {account.cash}, {committed} committed to open buys.")
        return CheckResult(
            "insufficient_cash", False,
            f"The buy costs about {cost} and open buys commit {committed}, more than the cash {account.cash}.",
        )

    @staticmethod
    def _open_buy_commitments(account: Account) -> Decimal:
        """Cash the account's open buy orders may still spend (remaining quantity x their highest price)."""
        rows = list(
            Order.objects.filter(account=account, side=Order.BUY, status__in=Order.OPEN_STATUSES)
            .values_list("symbol", "order_type", "quantity", "filled_quantity", "limit_price", "stop_price")
        )
        if not rows:
            return ZERO
        marks = selectors.price_marks(sorted({r[0] for r in rows}))
        total = ZERO
        for symbol, order_type, quantity, filled, limit, stop in rows:
            mark = marks.get(symbol, (None,))[0]
            if mark is not None or limit is not None:
                total += money((quantity - filled) * max_buy_price(order_type, limit, stop, mark))
        return total


def max_buy_price(order_type: str, limit: Decimal | None, stop: Decimal | None, mark: Decimal | None) -> Decimal:
    """The most a buy can pay per share: its limit, else the market (above the stop) plus slippage."""
    if order_type in (Order.LIMIT, Order.STOP_LIMIT):
        return limit
    reference = max(p for p in (mark, stop) if p is not None)
    return adverse_price(reference, Order.BUY, settings.PAPER_SLIPPAGE_BPS)


def open_quantity_on_side(account: Account, symbol: str, side: str) -> Decimal:
    """Remaining quantity of the account's open orders on ``symbol`` and ``side``."""
    totals = Order.objects.filter(account=account, symbol=symbol, side=side, status__in=Order.OPEN_STATUSES).aggregate(
        quantity=Sum("quantity"), filled=Sum("filled_quantity")
    )
    return (totals["quantity"] or ZERO) - (totals["filled"] or ZERO)
