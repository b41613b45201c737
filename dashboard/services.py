"""DashboardService (spec 4.1): one summary of the account from every domain, in a bounded number of queries.

Definitions (the README repeats them):

- ``daily_pnl``: equity now minus equity at the previous session's close (the breaker's reference).
- ``mtd_return_pct`` / ``ytd_return_pct``: equity now over the equity at the last snapshot before the
  month / year began (the account's initial cash when there is none), minus one, in percent.
- ``risk_level``: CRITICAL when the daily-loss breaker has tripped or trading is HALTED; HIGH when the
  day's loss has used 60% of ``MAX_DAILY_LOSS_PCT``, net delta exceeds 150% of equity, or one position
  exceeds 40% of equity; MEDIUM at 30% of the loss limit, delta above 100%, a position above 20%, or
  options without the data to price them; LOW otherwise. ``risk_reasons`` says which rule applied.
- ``pending_actions``: approvals waiting for a decision, plans whose entry is within 1% of the market
  or that expire within 24 hours, partially filled orders, draft journals to complete, and a
  tripped breaker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from alerts.models import AlertHistory
from alphaloop.versions import cache_call, user_version, version_get
from dashboard.serializers import DashboardSummarySerializer
from equity.models import EquitySnapshot
from factors.models import Signal
from journal.models import TradeJournal
from marketdata import calendar
from orders.models import Account, ApprovalRequest, Order, Position, TradingPlan
from orders.selectors import (
    account_valuation,
    book_read,
    breaker_active,
    plan_execution_rate,
    portfolio_exposure,
    previous_close_equity,
    stored_cash,
    valued_positions,
)

PCT = Decimal("0.01")
RISK_ORDER = ("LOW", "MEDIUM", "HIGH", "CRITICAL")
NEAR_ENTRY = Decimal("0.01")
JOURNALS_SHOWN = 5
OPEN_PLANS_SHOWN = 50


def _pct(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    if not denominator:
        return None
    return (numerator / denominator * 100).quantize(PCT)


def _base_equity(account: Account, before: date, snapshots: list[tuple[date, Decimal]]) -> Decimal:
    earlier = [equity for day, equity in snapshots if day < before]
    return earlier[-1] if earlier else account.initial_cash


def risk_assess(*, account: Account, equity: Decimal, daily_return: Decimal | None, exposure: dict,
                positions: list[dict], breaker: bool) -> tuple[str, list[str]]:
    level, reasons = "LOW", []

    def raise_to(new: str, reason: str) -> None:
        nonlocal level
        reasons.append(reason)
        if RISK_ORDER.index(new) > RISK_ORDER.index(level):
            level = new

    if breaker:
        raise_to("CRITICAL", "daily-loss breaker tripped")
    if account.trading_state == Account.HALTED:
        raise_to("CRITICAL", "trading halted")
    limit = settings.MAX_DAILY_LOSS_PCT
    if daily_return is not None and daily_return < 0 and limit > 0:
        used = -daily_return / limit
        if used >= Decimal("0.6"):
            raise_to("HIGH", f"day's loss used {used:.0%} of the {limit:.0%} limit")
        elif used >= Decimal("0.3"):
            raise_to("MEDIUM", f"day's loss used {used:.0%} of the {limit:.0%} limit")
    delta = abs(Decimal(exposure.get("delta_pct") or 0))
    if delta > 150:
        raise_to("HIGH", f"net delta {delta:.0f}% of equity")
    elif delta > 100:
        raise_to("MEDIUM", f"net delta {delta:.0f}% of equity")
    if equity > 0 and positions:
        largest = max(positions, key=lambda p: abs(p["market_value"]))
        share = abs(largest["market_value"]) / equity
        if share > Decimal("0.4"):
            raise_to("HIGH", f"{largest['symbol']} is {share:.0%} of equity")
        elif share > Decimal("0.2"):
            raise_to("MEDIUM", f"{largest['symbol']} is {share:.0%} of equity")
    if exposure.get("unpriced"):
        raise_to("MEDIUM", f"options without pricing data: {', '.join(exposure['unpriced'])}")
    return level, reasons


@dataclass
class AccountState:
    """Everything in the summary that prices do not change, read in one go (and cached, see below)."""

    positions: list[Position]
    cash: Decimal
    previous_close: Decimal
    snapshots: list[tuple[date, Decimal]]
    open_plans: list[TradingPlan]
    active_plans: int
    plan_execution_rate: Decimal | None
    breaker: bool
    signals: list[dict]
    alerts: list[dict]
    approval_actions: list[dict]
    later_actions: list[dict]


def account_state_load(*, account: Account, now: datetime) -> AccountState:
    today = timezone.localtime(now, calendar.market_tz()).date()
    open_plans = list(TradingPlan.objects.filter(account=account, status__in=[TradingPlan.PENDING, TradingPlan.ACTIVE])
                      .order_by("created_at", "id")[:OPEN_PLANS_SHOWN])
    latest_scan = Signal.objects.order_by("-as_of").values_list("as_of", flat=True).first()
    signals = list(
        Signal.objects.filter(as_of=latest_scan).exclude(direction=Signal.FLAT).order_by("-strength", "symbol")[:5]
    ) if latest_scan else []
    alerts = AlertHistory.objects.filter(account=account).order_by("-trigger_time", "-id")[:5]
    breaker = breaker_active(account, at=now)
    return AccountState(
        positions=valued_positions(account),
        cash=stored_cash(account),
        previous_close=previous_close_equity(account, at=now),
        snapshots=list(
            EquitySnapshot.objects.filter(account=account, snapshot_date__gte=date(today.year - 1, 12, 1))
            .order_by("snapshot_date").values_list("snapshot_date", "total_equity")
        ),
        open_plans=open_plans,
        active_plans=len(open_plans) if len(open_plans) < OPEN_PLANS_SHOWN else TradingPlan.objects.filter(
            account=account, status__in=[TradingPlan.PENDING, TradingPlan.ACTIVE]).count(),
        plan_execution_rate=plan_execution_rate(account),
        breaker=breaker,
        signals=[
            {"id": s.pk, "symbol": s.symbol, "as_of": s.as_of, "direction": s.direction, "strength": s.strength,
             "win_rate": s.win_rate, "rr_ratio": s.rr_ratio, "sample_size": s.sample_size} for s in signals
        ],
        alerts=[
            {"id": h.pk, "alert_id": h.alert_id, "symbol": h.symbol, "trigger_price": h.trigger_price,
             "trigger_time": h.trigger_time, "action_taken": h.action_taken} for h in alerts
        ],
        approval_actions=_approval_actions(account, breaker),
        later_actions=_order_and_journal_actions(account),
    )


def _approval_actions(account: Account, breaker: bool) -> list[dict]:
    actions: list[dict] = []
    if breaker:
        actions.append({"type": "breaker", "id": account.pk, "title": "Daily-loss breaker tripped: new orders are refused",
                        "url": "/orders/"})
    for approval in ApprovalRequest.objects.filter(account=account, status=ApprovalRequest.PENDING).select_related("plan")[:20]:
        plan = approval.plan
        actions.append({"type": "approval", "id": approval.pk, "url": "/orders/#approvals",
                        "title": f"Approve {plan.direction} {plan.quantity.normalize():f} {plan.symbol} @ {plan.entry_price:.2f} "
                                 f"({approval.source})"})
    return actions


def _plan_actions(open_plans: list[TradingPlan], marks: dict[str, tuple[Decimal, str]], now: datetime) -> list[dict]:
    actions = []
    soon = now + timedelta(hours=24)
    for plan in open_plans:
        price = marks[plan.symbol][0] if plan.symbol in marks else None
        near = price is not None and plan.entry_price and abs(price - plan.entry_price) / plan.entry_price <= NEAR_ENTRY
        expiring = plan.valid_until is not None and plan.valid_until <= soon
        if near or expiring:
            why = "price within 1% of entry" if near else "expires within 24 h"
            actions.append({"type": "plan", "id": plan.pk, "url": "/orders/#plans",
                            "title": f"Plan {plan.direction} {plan.symbol} @ {plan.entry_price:.2f}: {why}"})
    return actions


def _order_and_journal_actions(account: Account) -> list[dict]:
    actions = []
    for order in Order.objects.filter(account=account, status=Order.PARTIALLY_FILLED)[:20]:
        actions.append({"type": "order", "id": order.pk, "url": "/orders/",
                        "title": f"Order #{order.pk} {order.side} {order.symbol} partially filled "
                                 f"({order.filled_quantity}/{order.quantity})"})
    drafts = TradeJournal.objects.filter(account=account, journal_status=TradeJournal.DRAFT).order_by("-created_at", "-id")
    total_drafts = drafts.count()
    for journal in drafts[:JOURNALS_SHOWN]:
        actions.append({"type": "journal", "id": journal.pk, "url": f"/journal/{journal.pk}/",
                        "title": f"Complete the journal of {journal.direction} {journal.symbol} "
                                 f"({journal.exit_date or journal.entry_date})"})
    if total_drafts > JOURNALS_SHOWN:
        actions.append({"type": "journal", "id": 0, "url": "/journal/?status=DRAFT",
                        "title": f"… and {total_drafts - JOURNALS_SHOWN} more draft journal(s)"})
    return actions


def dashboard_summary(*, account: Account, now: datetime | None = None, state: AccountState | None = None) -> dict:
    """The summary: the account's state (read now unless given) valued at the latest prices, read now."""
    now = now or timezone.now()
    state = state or account_state_load(account=account, now=now)
    # One price read (held symbols, option underlyings, plan symbols) serves the valuation, the
    # exposure and the plans' distance to entry.
    book = book_read(state.positions, extra_symbols={plan.symbol for plan in state.open_plans})
    valuation = account_valuation(account, book=book, cash=state.cash)
    equity, previous = valuation["equity"], state.previous_close
    daily_pnl = equity - previous
    daily_return = (daily_pnl / previous) if previous > 0 else None
    today = timezone.localtime(now, calendar.market_tz()).date()
    month_base = _base_equity(account, today.replace(day=1), state.snapshots)
    year_base = _base_equity(account, date(today.year, 1, 1), state.snapshots)
    exposure = portfolio_exposure(account, at=now, book=book, equity=equity)
    risk_level, risk_reasons = risk_assess(account=account, equity=equity, daily_return=daily_return,
                                           exposure=exposure, positions=valuation["positions"], breaker=state.breaker)
    return {
        "account_id": account.pk,
        "account_code": account.code,
        "as_of": now,
        "total_equity": equity,
        "cash": valuation["cash"],
        "market_value": valuation["market_value"],
        "unrealized_pnl": valuation["unrealized_pnl"],
        "daily_pnl": daily_pnl,
        "daily_return_pct": _pct(daily_pnl, previous),
        "mtd_return_pct": _pct(equity - month_base, month_base),
        "ytd_return_pct": _pct(equity - year_base, year_base),
        "plan_execution_rate": state.plan_execution_rate,
        "active_plans_count": state.active_plans,
        "risk_level": risk_level,
        "risk_reasons": risk_reasons,
        "exposure": {f"{greek}_{unit}": exposure[f"{greek}_{unit}"]
                     for greek in ("delta", "gamma", "vega", "theta") for unit in ("pct", "dollars")},
        "recent_signals": state.signals,
        "recent_alerts": state.alerts,
        "pending_actions": state.approval_actions + _plan_actions(state.open_plans, book.marks, now)
        + state.later_actions,
        "positions": valuation["positions"],
    }


def dashboard_summary_data(*, account: Account) -> dict:
    """The serialized summary. Its price-independent part is cached per account for ``DASHBOARD_CACHE_SECONDS``.

    The cache key carries the version stamp of the user's data (``alphaloop.versions``: bumped by
    each of the user's audit rows and live events) and the account row's ``updated_at``: an order,
    fill, alert, plan, approval, breaker trip or trading-state switch makes the next read load the
    state again; prices are read on every request. What changes without either (a new signal scan,
    the session clock) is at most ``DASHBOARD_CACHE_SECONDS`` old. Without a cache (Redis down)
    every read loads everything.
    """
    now = timezone.now()
    seconds = settings.DASHBOARD_CACHE_SECONDS
    stamp = version_get(user_version(account.user_id)) if seconds > 0 else None
    state = None
    if stamp is not None:
        # The account row's own changes (cash from fills, breaker, trading state) move updated_at.
        key = f"dashboard:state:{account.pk}:{stamp}:{account.updated_at.timestamp()}"
        state = cache_call(cache.get, key)
        if state is None:
            state = account_state_load(account=account, now=now)
            cache_call(cache.set, key, state, seconds)
    return DashboardSummarySerializer(dashboard_summary(account=account, now=now, state=state)).data
