"""Live versus backtest for an account: its real fills against a replay of a strategy over the same bars.

Where this lives, and why: the comparison needs the account's fills (``orders``) and a backtest
(``backtest``). ``backtest`` may never read the order path (DESIGN.md: backtest -> factors,
marketdata), while ``dashboard`` reads every app. So this module reads the fills (read-only),
hands them to ``backtest.livecompare`` as plain ``Execution`` records, and replays the strategy
through ``backtest.services.backtest_replay``. Paper fills and a real broker's fills are the same
``Fill`` rows, so it works on both.
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q
from django.http import Http404
from rest_framework.exceptions import ValidationError

from alphaloop.money import PRICE_PLACES
from alphaloop.scoping import owned_by, user_account
from backtest.engine import CommissionModel
from backtest.livecompare import Execution, SimulatedFill, compare, pnl_curves
from backtest.models import BacktestRun
from backtest.services import RunSpec, backtest_replay, run_spec_validate
from equity.models import EquitySnapshot
from marketdata import calendar
from marketdata.models import Instrument
from orders.models import Account, Fill

MAX_WINDOW_SESSIONS = 10
MAX_RANGE_DAYS = 3660
"""Ten years: the longest range one comparison replays."""


def _session_of(at: datetime) -> date:
    """The NYSE session a fill belongs to: its New York date, or the next session when that is none."""
    day = at.astimezone(ZoneInfo(settings.MARKET_TIME_ZONE)).date()
    return day if calendar.is_session(day) else calendar.next_session(day)


def account_executions(*, account: Account, start: date, end: date, tag: str | None = None) -> list[Execution]:
    """The account's fills from ``start`` to ``end`` (New York dates) as plain records, oldest first.

    ``tag``: only fills of orders carrying that strategy tag (their own, or their plan's).
    """
    zone = ZoneInfo(settings.MARKET_TIME_ZONE)
    fills = Fill.objects.filter(account=account, executed_at__gte=datetime.combine(start, time.min, zone),
                                executed_at__lt=datetime.combine(end + timedelta(days=1), time.min, zone))
    if tag:
        fills = fills.filter(Q(order__strategy_tag=tag) | Q(order__plan__strategy_tag=tag))
    return [Execution(order_id=f.order_id, symbol=f.symbol, side=f.side.lower(), quantity=f.quantity, price=f.price,
                      commission=f.commission, executed_at=f.executed_at, session=_session_of(f.executed_at))
            for f in fills.order_by("executed_at", "id")]


def _equity_before(account: Account, start: date) -> tuple[Decimal, str]:
    snapshot = (EquitySnapshot.objects.filter(account=account, snapshot_date__lt=start)
                .order_by("-snapshot_date").values_list("total_equity", "snapshot_date").first())
    if snapshot is not None:
        return snapshot[0], f"equity snapshot of {snapshot[1].isoformat()}"
    return account.initial_cash, "the account's initial cash (no snapshot before the range)"


def _run_of(user, run_id: int) -> BacktestRun:
    run = owned_by(BacktestRun.objects.all(), user, owner_path="user").filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    return run


def live_compare_report(*, user, account_id: int | None, start_date: date, end_date: date,
                        strategy_id: str | None = None, params: dict | None = None, run_id: int | None = None,
                        symbols: list[str] | None = None, tag: str | None = None, window: int = 1) -> dict[str, Any]:
    """Replay the strategy over the range on the account's capital and match it to the account's fills.

    ``run_id`` takes the strategy, parameters, costs and (unless ``symbols`` are given) the symbols of
    one of your runs. Otherwise ``strategy_id`` and ``params``, no costs, and by default the symbols
    the account traded in the range (with ``tag``: in orders carrying that strategy tag).
    """
    account = user_account(user, account_id)
    if start_date >= end_date:
        raise ValidationError({"end_date": ["end_date must be after start_date."]})
    if (end_date - start_date).days > MAX_RANGE_DAYS:
        raise ValidationError({"end_date": [f"At most {MAX_RANGE_DAYS} days from start_date."]})
    commission, slippage_bps, rate, spread, max_volume_fraction = Decimal(0), Decimal(0), None, Decimal(0), None
    if run_id is not None:
        run = _run_of(user, run_id)
        strategy_id, params = run.strategy_id, run.params
        commission, slippage_bps, rate = run.commission, run.slippage_bps, run.risk_free_rate
        spread, max_volume_fraction = run.spread, run.max_volume_fraction
        symbols = symbols or run.symbols
    elif not strategy_id:
        raise ValidationError({"strategy_id": ["Give strategy_id (and params), or run_id."]})
    executions = account_executions(account=account, start=start_date, end=end_date, tag=tag)
    traded = sorted({e.symbol for e in executions})
    with_bars = set(Instrument.objects.filter(symbol__in=traded, bars__isnull=False).values_list("symbol", flat=True)
                    .distinct())
    if not symbols:
        symbols = [s for s in traded if s in with_bars]
        if not symbols:
            whose = f" tagged {tag!r}" if tag else ""
            raise ValidationError({"symbols": [f"The account has no fills{whose} in stocks with bars from {start_date} "
                                               f"to {end_date}: give symbols."]})
    capital, capital_source = _equity_before(account, start_date)
    spec = run_spec_validate(RunSpec(strategy_id, params or {}, symbols, start_date, end_date, capital, commission,
                                     slippage_bps, rate, spread=spread, max_volume_fraction=max_volume_fraction))
    replay, panel = backtest_replay(spec, commission=CommissionModel(rate=float(commission)))
    simulated = [SimulatedFill(session=f.date, symbol=f.symbol, side=f.side, quantity=Decimal(f.quantity),
                               price=Decimal(repr(f.price)).quantize(PRICE_PLACES),
                               commission=Decimal(repr(f.commission)).quantize(PRICE_PLACES)) for f in replay.fills]
    live = [e for e in executions if e.symbol in spec.symbols]
    closes = panel["close"].ffill()
    marks = {symbol: Decimal(repr(float(closes[symbol].iloc[-1]))).quantize(PRICE_PLACES) for symbol in spec.symbols}
    nyse = calendar.nyse()  # the fills' sessions and the replay's, a month either side, inside the calendar
    first, last = nyse.first_session.date(), nyse.last_session.date()
    sessions = calendar.sessions_between(max(start_date, first + timedelta(days=31)) - timedelta(days=31),
                                         min(end_date, last - timedelta(days=31)) + timedelta(days=31))
    report = compare(simulated, live, sessions=sessions, marks=marks, window=window)
    return {
        "account_id": account.pk, "strategy_id": spec.strategy_id, "params": spec.params, "run_id": run_id,
        "symbols": spec.symbols, "tag": tag or None, "start_date": start_date, "end_date": end_date, "window": window,
        "initial_capital": capital, "capital_source": capital_source,
        "marks": {symbol: {"date": closes.index[-1].date().isoformat(), "close": str(mark)} for symbol, mark in marks.items()},
        "ignored_symbols": [s for s in traded if s not in spec.symbols],
        "backtest_metrics": {k: replay.metrics.get(k) for k in ("total_return", "n_trades", "final_equity", "max_dd")},
        **report,
        "curve": pnl_curves(simulated, live, closes),
    }


def params_parse(raw: str | None) -> dict:
    """The ``params`` query value: a JSON object of strategy parameters."""
    if raw in (None, ""):
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        raise ValidationError({"params": ['A JSON object, e.g. {"fast": 10, "slow": 30}.']}) from None
    if not isinstance(value, dict):
        raise ValidationError({"params": ['A JSON object, e.g. {"fast": 10, "slow": 30}.']})
    return value
