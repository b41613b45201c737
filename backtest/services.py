"""Backtest runs: validate, queue as Celery tasks, execute the pure engine, store results.

The engine (``backtest.engine``) knows nothing of Django; this module loads the bars, passes
progress back into the ``BacktestRun`` row and makes sure no run stays RUNNING forever: a run
is claimed atomically, heartbeats while it works, and ``backtest_runs_reap`` fails runs whose
worker died (their heartbeat went stale) unless Celery redelivers them first.
"""

from __future__ import annotations

import itertools
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Min
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from alphaloop.audit import audit_log_create
from alphaloop.exceptions import ServiceUnavailable
from backtest import walkforward
from backtest.engine import Backtest, CommissionModel
from backtest.models import BacktestRun, WalkForwardRun, WalkForwardWindow
from backtest.strategies import STOCKS, ParamError, get_strategy
from backtest.window import WindowResult, panel_slice, window_backtest
from marketdata import calendar
from marketdata.models import Bar, Instrument
from marketdata.selectors import panel_load

logger = logging.getLogger(__name__)

BENCHMARK = "SPY"
HEARTBEAT_SECONDS = 5
MAX_SWEEP_RUNS = 200
"""The most runs one sweep may queue; also the longest value list of one parameter (a longer one could never fit)."""


@dataclass(frozen=True)
class RunSpec:
    strategy_id: str
    params: dict[str, Any]
    symbols: list[str] | None
    """None: the strategy's default universe (``default_universe`` says which was used)."""
    start_date: date
    end_date: date
    initial_capital: Decimal
    commission: Decimal = Decimal("0")
    slippage_bps: Decimal = Decimal("0")
    risk_free_rate: Decimal | None = None
    """Annual rate for Sharpe, Sortino and alpha; None: ``BACKTEST_RISK_FREE_RATE`` (default 0)."""
    default_universe: bool = False
    spread: Decimal = Decimal("0")
    """Bid-ask spread as a fraction of the price: half of it against each fill (FILL_RULES 2)."""
    max_volume_fraction: Decimal | None = None
    """Volume cap: a symbol's fills on a bar add up to at most this fraction of its volume (FILL_RULES 12)."""

    def costs(self) -> dict[str, Any]:
        """The engine's cost arguments: ``Backtest(..., **spec.costs())``."""
        return {"commission": CommissionModel(rate=float(self.commission)), **self.market_costs()}

    def market_costs(self) -> dict[str, Any]:
        """Slippage, spread and volume cap, as the engine takes them."""
        return market_costs(self.slippage_bps, self.spread, self.max_volume_fraction)


def market_costs(slippage_bps: Decimal, spread: Decimal, max_volume_fraction: Decimal | None) -> dict[str, Any]:
    """The engine's slippage, spread and volume cap arguments from stored numbers."""
    return {"slippage_bps": float(slippage_bps), "spread": float(spread),
            "max_volume_fraction": None if max_volume_fraction is None else float(max_volume_fraction)}


def _default_universe(strategy, start: date, end: date) -> list[str]:
    """The symbols of the strategy's declared default universe (``STOCKS``: every active stock with bars then)."""
    if strategy.default_universe != STOCKS:
        return list(strategy.default_universe)
    stocks = (Bar.objects.filter(instrument__asset_class=Instrument.STOCK, instrument__active=True,
                                 date__gte=start, date__lte=end)
              .order_by().values_list("instrument__symbol", flat=True).distinct())
    symbols = sorted(stocks)
    if not symbols:
        raise ValidationError({"symbols": [f"No stocks have bars between {start} and {end}: give symbols."]})
    return symbols


def run_spec_validate(spec: RunSpec) -> RunSpec:
    """Field-level checks; raises DRF ValidationError naming the field. Returns params normalized."""
    try:
        strategy = get_strategy(spec.strategy_id)
        parsed = strategy.parse_params(spec.params)
    except ParamError as exc:
        field = "strategy_id" if exc.field == "strategy_id" else "params"
        raise ValidationError({field: [exc.message if field == "strategy_id" else str(exc)]}) from None
    if spec.start_date >= spec.end_date:
        raise ValidationError({"end_date": ["end_date must be after start_date."]})
    default_universe = spec.symbols is None
    if default_universe:
        symbols = _default_universe(strategy, spec.start_date, spec.end_date)
    else:
        symbols = [s.strip().upper() for s in spec.symbols]
    if not symbols:
        raise ValidationError({"symbols": ["Give at least one symbol."]})
    known = set(Instrument.objects.filter(symbol__in=symbols).values_list("symbol", flat=True))
    if unknown := [s for s in symbols if s not in known]:
        raise ValidationError({"symbols": [f"Unknown symbol(s): {', '.join(unknown)}."]})
    with_bars = set(
        Bar.objects.filter(instrument__symbol__in=symbols, date__gte=spec.start_date, date__lte=spec.end_date)
        .values_list("instrument__symbol", flat=True).distinct()
    )
    if missing := [s for s in symbols if s not in with_bars]:
        whose = f"{spec.strategy_id}'s default universe; give symbols" if default_universe else "give others"
        raise ValidationError({"symbols": [f"No bars between {spec.start_date} and {spec.end_date} for: "
                                           f"{', '.join(missing)} ({whose})."]})
    params = {name: getattr(parsed, name) for name in strategy.param_schema()}
    risk_free_rate = settings.BACKTEST_RISK_FREE_RATE if spec.risk_free_rate is None else spec.risk_free_rate
    return RunSpec(spec.strategy_id, params, symbols, spec.start_date, spec.end_date, spec.initial_capital,
                   spec.commission, spec.slippage_bps, risk_free_rate, default_universe, spec.spread,
                   spec.max_volume_fraction)


QUEUE_REFUSED = "Not started: the task queue was unavailable."


def _dispatch(task, ids: list[int], refused) -> None:
    """Queue ``task`` once per id once the rows are committed (a Celery group: spread over workers);
    ``refused()`` marks the rows FAILED when the queue refuses them, so nothing is left PENDING."""
    from celery import group

    def send() -> None:
        try:
            if len(ids) == 1:
                task.delay(ids[0])
            else:
                group(task.s(i) for i in ids).apply_async()
        except ServiceUnavailable:
            refused()
            raise

    transaction.on_commit(send)


def _enqueue(run_ids: list[int]) -> None:
    """Queue the runs once their rows are committed; runs the queue refuses are FAILED, not left PENDING."""
    from backtest.tasks import backtest_run_task

    def refused() -> None:
        BacktestRun.objects.filter(pk__in=run_ids, status=BacktestRun.PENDING).update(
            status=BacktestRun.FAILED, error=QUEUE_REFUSED, finished_at=timezone.now())

    _dispatch(backtest_run_task, run_ids, refused)


def _create_row(user, spec: RunSpec, sweep_id: uuid.UUID | None = None) -> BacktestRun:
    return BacktestRun.objects.create(
        user=user, strategy_id=spec.strategy_id, params=spec.params, symbols=spec.symbols,
        default_universe=spec.default_universe,
        start_date=spec.start_date, end_date=spec.end_date, initial_capital=spec.initial_capital,
        commission=spec.commission, slippage_bps=spec.slippage_bps, spread=spec.spread,
        max_volume_fraction=spec.max_volume_fraction, risk_free_rate=spec.risk_free_rate, sweep_id=sweep_id,
    )


@transaction.atomic
def backtest_run_create(*, user, spec: RunSpec, request=None) -> BacktestRun:
    spec = run_spec_validate(spec)
    run = _create_row(user, spec)
    audit_log_create(action="backtest.run", resource=f"backtest:{run.pk}", user=user, request=request,
                     payload={"strategy_id": spec.strategy_id, "params": spec.params, "symbols": spec.symbols,
                              "default_universe": spec.default_universe})
    _enqueue([run.pk])
    return run


def sweep_grid_check(strategy_id: str, grid: dict[str, list], per: str = "runs per sweep") -> int:
    """Refuse a grid that is empty, names a parameter the strategy lacks, or has more than MAX_SWEEP_RUNS
    combinations; return its size. It only counts: the size is the product of the list lengths, known
    before any combination is built (a 1 KB body can describe 10^8 of them)."""
    if not grid or not all(isinstance(v, list) and v for v in grid.values()):
        raise ValidationError({"grid": ["Give each parameter a non-empty list of values."]})
    try:
        known = get_strategy(strategy_id).param_schema()
    except ParamError as exc:
        raise ValidationError({"strategy_id": [exc.message]}) from None
    if unknown := [name for name in grid if name not in known]:
        raise ValidationError({"grid": [f"{strategy_id} has no parameter {', '.join(map(repr, unknown))} "
                                        f"(takes {', '.join(known) or 'no parameters'})."]})
    if long := [name for name, values in grid.items() if len(values) > MAX_SWEEP_RUNS]:
        raise ValidationError({"grid": [f"{name}: {len(grid[name])} values; at most {MAX_SWEEP_RUNS}." for name in long]})
    size = math.prod(len(values) for values in grid.values())
    if size > MAX_SWEEP_RUNS:
        sizes = " x ".join(str(len(values)) for values in grid.values())
        raise ValidationError({"grid": [f"{sizes} = {size} combinations; at most {MAX_SWEEP_RUNS} {per}."]})
    return size


@transaction.atomic
def backtest_sweep_create(*, user, spec: RunSpec, grid: dict[str, list], request=None) -> tuple[uuid.UUID, list[BacktestRun]]:
    """One run per combination of the grid's values, queued as a Celery group (spread over workers)."""
    sweep_grid_check(spec.strategy_id, grid)
    combos = [dict(zip(grid, values)) for values in itertools.product(*grid.values())]
    specs = [run_spec_validate(RunSpec(**{**spec.__dict__, "params": {**spec.params, **combo}})) for combo in combos]
    sweep_id = uuid.uuid4()
    runs = [_create_row(user, s, sweep_id) for s in specs]
    audit_log_create(action="backtest.sweep", resource=f"sweep:{sweep_id}", user=user, request=request,
                     payload={"strategy_id": spec.strategy_id, "grid": grid, "runs": len(runs)})
    _enqueue([r.pk for r in runs])
    return sweep_id, runs


def benchmark_returns(start: date, end: date) -> pd.Series | None:
    """SPY's daily returns from ``start`` to ``end`` (None without SPY bars): the benchmark of alpha/beta."""
    benchmark = panel_load([BENCHMARK], start - timedelta(days=7), end)["close"]
    return benchmark[BENCHMARK].pct_change().dropna() if BENCHMARK in benchmark else None


def backtest_panel(symbols: list[str], start: date, end: date) -> tuple[dict[str, pd.DataFrame], pd.Series | None]:
    """The strategy's panel and SPY's daily returns over the window (the benchmark for alpha/beta)."""
    return panel_load(symbols, start, end), benchmark_returns(start, end)


def backtest_compute(spec: RunSpec, progress=None):
    """Run the engine for ``spec`` on stored bars (no database access inside the loop)."""
    strategy_cls = get_strategy(spec.strategy_id)
    panel, benchmark = backtest_panel(spec.symbols, spec.start_date, spec.end_date)
    return Backtest(
        panel,
        strategy_cls(spec.params),
        initial_capital=float(spec.initial_capital),
        **spec.costs(),
        progress=progress,
        benchmark_returns=benchmark,
        # The backtest's own rate (default 0, as backtrader, vectorbt and empyrical), not the options RISK_FREE_RATE.
        risk_free_rate=float(settings.BACKTEST_RISK_FREE_RATE if spec.risk_free_rate is None else spec.risk_free_rate),
    ).run()


def _claim(run_id: int, now) -> bool:
    """PENDING -> RUNNING, or take over a RUNNING run whose worker stopped heartbeating."""
    stale = now - timedelta(seconds=settings.BACKTEST_STALE_SECONDS)
    claimed = BacktestRun.objects.filter(pk=run_id, status=BacktestRun.PENDING).update(
        status=BacktestRun.RUNNING, started_at=now, heartbeat_at=now, progress=0.0)
    if not claimed:
        claimed = BacktestRun.objects.filter(pk=run_id, status=BacktestRun.RUNNING, heartbeat_at__lt=stale).update(
            started_at=now, heartbeat_at=now, progress=0.0)
    return bool(claimed)


def backtest_execute(*, run_id: int) -> BacktestRun | None:
    """Execute a queued run; a second delivery of the same run does nothing."""
    if not _claim(run_id, timezone.now()):
        logger.info("backtest %s already claimed or finished", run_id)
        return None
    run = BacktestRun.objects.get(pk=run_id)
    spec = RunSpec(run.strategy_id, run.params, run.symbols, run.start_date, run.end_date, run.initial_capital,
                   run.commission, run.slippage_bps, run.risk_free_rate, spread=run.spread,
                   max_volume_fraction=run.max_volume_fraction)
    last_beat = [timezone.now()]

    def progress(fraction: float) -> None:
        now = timezone.now()
        if (now - last_beat[0]).total_seconds() >= HEARTBEAT_SECONDS or fraction >= 1.0:
            BacktestRun.objects.filter(pk=run_id, status=BacktestRun.RUNNING).update(progress=fraction, heartbeat_at=now)
            last_beat[0] = now

    try:
        result = backtest_compute(spec, progress)
    except Exception as exc:  # any failure is stored on the run, never left RUNNING
        logger.exception("backtest %s failed", run_id)
        BacktestRun.objects.filter(pk=run_id).update(
            status=BacktestRun.FAILED, error=f"{type(exc).__name__}: {exc}"[:4000], finished_at=timezone.now())
        return BacktestRun.objects.get(pk=run_id)
    data = result.to_dict()
    BacktestRun.objects.filter(pk=run_id).update(
        status=BacktestRun.SUCCEEDED, progress=1.0, metrics=data["metrics"], equity_curve=data["equity_curve"],
        trades=data["trades"], open_trades=data["open_trades"], volume_capped_orders=data["volume_capped_orders"],
        finished_at=timezone.now(), error="")
    return BacktestRun.objects.get(pk=run_id)


def backtest_runs_reap(*, now=None) -> int:
    """Fail RUNNING runs whose heartbeat is older than BACKTEST_STALE_SECONDS x 3 (their worker died)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.BACKTEST_STALE_SECONDS * 3)
    return BacktestRun.objects.filter(status=BacktestRun.RUNNING, heartbeat_at__lt=cutoff).update(
        status=BacktestRun.FAILED, error="The worker running this backtest stopped (no heartbeat).", finished_at=now)


# -- walk-forward ---------------------------------------------------------------------------------

MAX_WALK_FORWARD_WINDOWS = 60
MAX_WALK_FORWARD_BACKTESTS = 2_000
"""Most in-sample backtests (windows x combinations) one walk-forward may run; counted before building."""


@dataclass(frozen=True)
class WalkForwardSpec:
    run: RunSpec
    """The strategy, fixed ``params``, universe, dates and costs; the grid varies the rest."""
    grid: dict[str, list]
    train_days: int
    test_days: int
    step_days: int | None = None
    """None: ``test_days`` (back-to-back test windows)."""
    anchored: bool = False
    objective: str = "sharpe"


def _sessions_before(day: date, count: int) -> list[date]:
    """The ``count`` NYSE sessions before ``day`` (fewer where the calendar starts)."""
    first = date.fromisoformat(calendar.CALENDAR_START)
    if day <= first or not count:
        return []
    earliest = max(first, day - timedelta(days=count * 7 // 4 + 14))
    return calendar.sessions_between(earliest, day - timedelta(days=1))[-count:]


def walk_forward_request_check(spec: WalkForwardSpec) -> None:
    """The checks that need no data: objective, step, dates, and the grid counted (not built)."""
    run = spec.run
    if spec.objective not in walkforward.OBJECTIVES:
        raise ValidationError({"objective": [f"One of {', '.join(walkforward.OBJECTIVES)}."]})
    step = spec.step_days or spec.test_days
    if step < spec.test_days:
        raise ValidationError({"step_days": [f"step_days ({step}) must be at least test_days ({spec.test_days}): "
                                             "test windows may not overlap (the stitched curve takes each session once)."]})
    if run.start_date >= run.end_date:
        raise ValidationError({"end_date": ["end_date must be after start_date."]})
    sweep_grid_check(run.strategy_id, spec.grid, per="combinations per walk-forward")


def _sessions_with_bars(symbols: list[str], start: date, end: date) -> list[date]:
    """NYSE sessions from the symbols' first bar to their last within ``start``..``end`` (inside the calendar)."""
    span = Bar.objects.filter(instrument__symbol__in=symbols, date__gte=start, date__lte=end).aggregate(
        first=Min("date"), last=Max("date"))
    nyse = calendar.nyse()
    first = max(span["first"] or end, nyse.first_session.date())
    last = min(span["last"] or start, nyse.last_session.date())
    return calendar.sessions_between(first, last) if first <= last else []


def walk_forward_windows(spec: WalkForwardSpec, symbols: list[str], n_combinations: int) -> list[walkforward.WindowPlan]:
    """The windows over the sessions with bars, counted and capped before any is built."""
    run = spec.run
    step = spec.step_days or spec.test_days
    sessions = _sessions_with_bars(symbols, run.start_date, run.end_date)
    count = walkforward.windows_count(len(sessions), train_days=spec.train_days, test_days=spec.test_days,
                                      step_days=step)
    if count == 0:
        span = f"{sessions[0]} to {sessions[-1]}" if sessions else f"{run.start_date} to {run.end_date}"
        raise ValidationError({"train_days": [
            f"{span} holds {len(sessions)} sessions with bars: a {spec.train_days}-session train window leaves no "
            f"test window (it needs {spec.train_days + walkforward.MIN_TEST_SESSIONS} sessions)."]})
    if count > MAX_WALK_FORWARD_WINDOWS:
        raise ValidationError({"step_days": [f"{count} windows; at most {MAX_WALK_FORWARD_WINDOWS}: a longer step, "
                                             "or a shorter date range."]})
    if count * n_combinations > MAX_WALK_FORWARD_BACKTESTS:
        raise ValidationError({"grid": [f"{count} windows x {n_combinations} combinations = {count * n_combinations} "
                                        f"backtests; at most {MAX_WALK_FORWARD_BACKTESTS}: fewer combinations or fewer "
                                        "windows."]})
    history = _sessions_before(sessions[0], spec.train_days)
    return walkforward.windows_plan(sessions, history, train_days=spec.train_days, test_days=spec.test_days,
                                    step_days=step, anchored=spec.anchored)


def _walk_forward_prepare(spec: WalkForwardSpec) -> tuple[RunSpec, list[dict], list[dict], list[walkforward.WindowPlan]]:
    """Validate a walk-forward: (the run checked, its valid combinations, the skipped ones, its windows)."""
    walk_forward_request_check(spec)
    strategy = get_strategy(spec.run.strategy_id)
    schema = strategy.param_schema()
    if unknown := [name for name in spec.run.params if name not in schema]:
        raise ValidationError({"params": [f"{spec.run.strategy_id} has no parameter {', '.join(map(repr, unknown))}."]})
    if overlap := [name for name in spec.run.params if name in spec.grid]:
        raise ValidationError({"params": [f"{', '.join(overlap)}: given in params and in grid; keep one."]})
    combinations, skipped = walkforward.grid_combinations(strategy, spec.run.params, spec.grid)
    if not combinations:
        raise ValidationError({"grid": [f"The strategy refuses every combination, e.g. {skipped[0]['reason']}"]})
    checked = run_spec_validate(RunSpec(**{**spec.run.__dict__, "params": combinations[0]}))
    plans = walk_forward_windows(spec, checked.symbols, len(combinations))
    return checked, combinations, skipped, plans


@transaction.atomic
def backtest_walk_forward_create(*, user, spec: WalkForwardSpec, request=None) -> WalkForwardRun:
    """Validate, store the run and its windows, and queue one Celery task per window (a group)."""
    checked, combinations, skipped, plans = _walk_forward_prepare(spec)
    run = WalkForwardRun.objects.create(
        user=user, strategy_id=checked.strategy_id, params=spec.run.params, grid=spec.grid,
        combinations=combinations, skipped=skipped, symbols=checked.symbols,
        default_universe=checked.default_universe, start_date=checked.start_date, end_date=checked.end_date,
        initial_capital=checked.initial_capital, commission=checked.commission, slippage_bps=checked.slippage_bps,
        spread=checked.spread, max_volume_fraction=checked.max_volume_fraction, risk_free_rate=checked.risk_free_rate, train_days=spec.train_days, test_days=spec.test_days,
        step_days=spec.step_days or spec.test_days, anchored=spec.anchored, objective=spec.objective,
        windows_total=len(plans),
    )
    windows = WalkForwardWindow.objects.bulk_create(
        [WalkForwardWindow(run=run, **{k: v for k, v in plan.__dict__.items()}) for plan in plans])
    audit_log_create(action="backtest.walk_forward", resource=f"walk_forward:{run.pk}", user=user, request=request,
                     payload={"strategy_id": run.strategy_id, "grid": spec.grid, "symbols": run.symbols,
                              "windows": len(plans), "combinations": len(combinations), "objective": run.objective})
    ids = [w.pk for w in windows] if all(w.pk for w in windows) else list(run.windows.values_list("pk", flat=True))
    _enqueue_windows(run.pk, ids)
    return run


def _enqueue_windows(run_id: int, window_ids: list[int]) -> None:
    from backtest.tasks import walk_forward_window_task

    def refused() -> None:
        now = timezone.now()
        WalkForwardWindow.objects.filter(pk__in=window_ids, status=BacktestRun.PENDING).update(
            status=BacktestRun.FAILED, error=QUEUE_REFUSED, finished_at=now)
        WalkForwardRun.objects.filter(pk=run_id).update(status=BacktestRun.FAILED, error=QUEUE_REFUSED, finished_at=now)

    _dispatch(walk_forward_window_task, window_ids, refused)


def _claim_window(window_id: int, now) -> bool:
    stale = now - timedelta(seconds=settings.BACKTEST_STALE_SECONDS)
    claimed = WalkForwardWindow.objects.filter(pk=window_id, status=BacktestRun.PENDING).update(
        status=BacktestRun.RUNNING, started_at=now, heartbeat_at=now)
    if not claimed:
        claimed = WalkForwardWindow.objects.filter(pk=window_id, status=BacktestRun.RUNNING,
                                                   heartbeat_at__lt=stale).update(started_at=now, heartbeat_at=now)
    return bool(claimed)


def _walk_forward_failed(run_id: int, message: str) -> None:
    WalkForwardRun.objects.filter(pk=run_id, status__in=[BacktestRun.PENDING, BacktestRun.RUNNING]).update(
        status=BacktestRun.FAILED, error=message[:4000], finished_at=timezone.now())


def walk_forward_window_execute(*, window_id: int) -> WalkForwardWindow | None:
    """Optimise one window's grid on its train sessions and trade the winner on its test sessions.

    A second delivery of a finished window does nothing. The window that completes the set stitches
    the out-of-sample curve (``walk_forward_finish``).
    """
    if not _claim_window(window_id, timezone.now()):
        logger.info("walk-forward window %s already claimed or finished", window_id)
        return None
    window = WalkForwardWindow.objects.select_related("run").get(pk=window_id)
    run = window.run
    WalkForwardRun.objects.filter(pk=run.pk, status=BacktestRun.PENDING).update(status=BacktestRun.RUNNING)
    if run.status == BacktestRun.FAILED:
        WalkForwardWindow.objects.filter(pk=window_id).update(
            status=BacktestRun.FAILED, error="The walk-forward failed in another window.", finished_at=timezone.now())
        return WalkForwardWindow.objects.get(pk=window_id)
    last_beat = [timezone.now()]

    def heartbeat(done: int) -> None:
        now = timezone.now()
        if (now - last_beat[0]).total_seconds() >= HEARTBEAT_SECONDS:
            WalkForwardWindow.objects.filter(pk=window_id, status=BacktestRun.RUNNING).update(heartbeat_at=now)
            last_beat[0] = now

    plan = walkforward.WindowPlan(index=window.index, train_history=window.train_history,
                                  train_start=window.train_start, train_end=window.train_end,
                                  test_history=window.test_history, test_start=window.test_start,
                                  test_end=window.test_end)
    try:
        panel = panel_load(run.symbols, min(plan.train_history, plan.test_history), plan.test_end)
        result = walkforward.window_evaluate(
            panel, get_strategy(run.strategy_id), run.combinations, plan, objective=run.objective,
            initial_capital=float(run.initial_capital), commission=CommissionModel(rate=float(run.commission)),
            **market_costs(run.slippage_bps, run.spread, run.max_volume_fraction),
            risk_free_rate=float(run.risk_free_rate), progress=heartbeat)
    except Exception as exc:  # stored on the window and its run, never left RUNNING
        logger.exception("walk-forward window %s failed", window_id)
        message = f"Window {window.index + 1} (train {plan.train_start} to {plan.train_end}): {type(exc).__name__}: {exc}"
        WalkForwardWindow.objects.filter(pk=window_id).update(status=BacktestRun.FAILED, error=message[:4000],
                                                              finished_at=timezone.now())
        _walk_forward_failed(run.pk, message)
        return WalkForwardWindow.objects.get(pk=window_id)
    with transaction.atomic():
        updated = WalkForwardWindow.objects.filter(pk=window_id, status=BacktestRun.RUNNING).update(
            status=BacktestRun.SUCCEEDED, result=result, finished_at=timezone.now(), error="")
        if updated:
            WalkForwardRun.objects.filter(pk=run.pk).update(windows_done=F("windows_done") + 1)
    walk_forward_finish(run_id=run.pk)
    return WalkForwardWindow.objects.get(pk=window_id)


def walk_forward_finish(*, run_id: int) -> WalkForwardRun | None:
    """Stitch the out-of-sample pieces once every window has succeeded; one caller does it (row lock)."""
    with transaction.atomic():
        run = WalkForwardRun.objects.select_for_update().get(pk=run_id)
        if run.status != BacktestRun.RUNNING:
            return None
        if run.windows.exclude(status=BacktestRun.SUCCEEDED).exists():
            return None
        windows = [w.result for w in run.windows.order_by("index")]
        first_test = run.windows.order_by("index").values_list("test_start", flat=True).first()
        try:
            run.result = walkforward.stitch(windows, initial_capital=float(run.initial_capital),
                                            risk_free_rate=float(run.risk_free_rate),
                                            benchmark_returns=benchmark_returns(first_test, run.end_date))
            run.status = BacktestRun.SUCCEEDED
        except Exception as exc:  # stored on the run, never left RUNNING
            logger.exception("walk-forward %s: stitching failed", run_id)
            run.status, run.error = BacktestRun.FAILED, f"Stitching the windows failed: {type(exc).__name__}: {exc}"[:4000]
        run.finished_at = timezone.now()
        run.save(update_fields=["result", "status", "error", "finished_at"])
    return run


def walk_forward_runs_reap(*, now=None) -> int:
    """Fail windows whose worker died (heartbeat older than 3 stale periods) with their walk-forward, and
    stitch walk-forwards whose windows all succeeded but whose stitching was lost. Returns the windows failed."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.BACKTEST_STALE_SECONDS * 3)
    dead = list(WalkForwardWindow.objects.filter(status=BacktestRun.RUNNING, heartbeat_at__lt=cutoff)
                .values_list("pk", "run_id", "index"))
    for pk, run_id, index in dead:
        message = f"The worker running window {index + 1} stopped (no heartbeat)."
        WalkForwardWindow.objects.filter(pk=pk, status=BacktestRun.RUNNING).update(
            status=BacktestRun.FAILED, error=message, finished_at=now)
        _walk_forward_failed(run_id, message)
    orphans = (WalkForwardRun.objects.filter(status=BacktestRun.RUNNING, created_at__lt=cutoff)
               .exclude(windows__status__in=[BacktestRun.PENDING, BacktestRun.RUNNING, BacktestRun.FAILED]))
    for run_id in orphans.values_list("pk", flat=True):
        walk_forward_finish(run_id=run_id)
    return len(dead)


def walk_forward_compute(spec: WalkForwardSpec, progress=None) -> dict:
    """A whole walk-forward in this process, nothing stored (``run_backtest --walk-forward``)."""
    run, combinations, skipped, plans = _walk_forward_prepare(spec)
    strategy = get_strategy(run.strategy_id)
    panel = panel_load(run.symbols, min(plans[0].train_history, plans[0].test_history), plans[-1].test_end)
    windows = []
    for plan in plans:
        windows.append(walkforward.window_evaluate(
            panel, strategy, combinations, plan, objective=spec.objective, initial_capital=float(run.initial_capital),
            **run.costs(), risk_free_rate=float(run.risk_free_rate)))
        if progress is not None:
            progress(len(windows) / len(plans))
    stitched = walkforward.stitch(windows, initial_capital=float(run.initial_capital),
                                  risk_free_rate=float(run.risk_free_rate),
                                  benchmark_returns=benchmark_returns(plans[0].test_start, run.end_date))
    return {"strategy_id": run.strategy_id, "symbols": run.symbols, "combinations": combinations, "skipped": skipped,
            "objective": spec.objective, **stitched, "windows": windows}


# -- replays over a window with history (live versus backtest) -------------------------------------

REPLAY_HISTORY_SESSIONS = 252
"""Sessions before a replay's first session given to the strategy as history for its indicators."""


def backtest_replay(spec: RunSpec, *, commission: CommissionModel | None = None) -> tuple[WindowResult, dict[str, pd.DataFrame]]:
    """Trade ``spec`` (validated) from its first session to its last, flat at the start, with the
    ``REPLAY_HISTORY_SESSIONS`` before it as the strategy's history; also return the window's panel."""
    history = _sessions_before(spec.start_date, REPLAY_HISTORY_SESSIONS)
    panel = panel_load(spec.symbols, history[0] if history else spec.start_date, spec.end_date)
    result = window_backtest(
        panel, get_strategy(spec.strategy_id), spec.params, first=spec.start_date,
        initial_capital=float(spec.initial_capital),
        commission=commission or CommissionModel(rate=float(spec.commission)), **spec.market_costs(),
        risk_free_rate=float(spec.risk_free_rate or 0))
    return result, panel_slice(panel, spec.start_date, spec.end_date)
