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
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from alphaloop.audit import audit_log_create
from alphaloop.exceptions import ServiceUnavailable
from backtest.engine import Backtest, CommissionModel
from backtest.models import BacktestRun
from backtest.strategies import STOCKS, ParamError, get_strategy
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
                   spec.commission, spec.slippage_bps, risk_free_rate, default_universe)


def _enqueue(run_ids: list[int]) -> None:
    """Queue the runs once their rows are committed; runs the queue refuses are FAILED, not left PENDING."""
    from celery import group

    from backtest.tasks import backtest_run_task

    def send() -> None:
        try:
            if len(run_ids) == 1:
                backtest_run_task.delay(run_ids[0])
            else:
                group(backtest_run_task.s(run_id) for run_id in run_ids).apply_async()
        except ServiceUnavailable:
            BacktestRun.objects.filter(pk__in=run_ids, status=BacktestRun.PENDING).update(
                status=BacktestRun.FAILED, error="Not started: the task queue was unavailable.",
                finished_at=timezone.now())
            raise

    transaction.on_commit(send)


def _create_row(user, spec: RunSpec, sweep_id: uuid.UUID | None = None) -> BacktestRun:
    return BacktestRun.objects.create(
        user=user, strategy_id=spec.strategy_id, params=spec.params, symbols=spec.symbols,
        default_universe=spec.default_universe,
        start_date=spec.start_date, end_date=spec.end_date, initial_capital=spec.initial_capital,
        commission=spec.commission, slippage_bps=spec.slippage_bps, risk_free_rate=spec.risk_free_rate,
        sweep_id=sweep_id,
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


def sweep_grid_check(strategy_id: str, grid: dict[str, list]) -> None:
    """Refuse a grid that is empty, names a parameter the strategy lacks, or has more than MAX_SWEEP_RUNS
    combinations. It only counts: the size is the product of the list lengths, known before any
    combination is built (a 1 KB body can describe 10^8 of them)."""
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
        raise ValidationError({"grid": [f"{sizes} = {size} combinations; at most {MAX_SWEEP_RUNS} runs per sweep."]})


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


def backtest_panel(symbols: list[str], start: date, end: date) -> tuple[dict[str, pd.DataFrame], pd.Series | None]:
    """The strategy's panel and SPY's daily returns over the window (the benchmark for alpha/beta)."""
    panel = panel_load(symbols, start, end)
    benchmark = panel_load([BENCHMARK], start - timedelta(days=7), end)["close"]
    returns = benchmark[BENCHMARK].pct_change().dropna() if BENCHMARK in benchmark else None
    return panel, returns


def backtest_compute(spec: RunSpec, progress=None):
    """Run the engine for ``spec`` on stored bars (no database access inside the loop)."""
    strategy_cls = get_strategy(spec.strategy_id)
    panel, benchmark = backtest_panel(spec.symbols, spec.start_date, spec.end_date)
    return Backtest(
        panel,
        strategy_cls(spec.params),
        initial_capital=float(spec.initial_capital),
        commission=CommissionModel(rate=float(spec.commission)),
        slippage_bps=float(spec.slippage_bps),
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
                   run.commission, run.slippage_bps, run.risk_free_rate)
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
        trades=data["trades"], open_trades=data["open_trades"], finished_at=timezone.now(), error="")
    return BacktestRun.objects.get(pk=run_id)


def backtest_runs_reap(*, now=None) -> int:
    """Fail RUNNING runs whose heartbeat is older than BACKTEST_STALE_SECONDS x 3 (their worker died)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.BACKTEST_STALE_SECONDS * 3)
    return BacktestRun.objects.filter(status=BacktestRun.RUNNING, heartbeat_at__lt=cutoff).update(
        status=BacktestRun.FAILED, error="The worker running this backtest stopped (no heartbeat).", finished_at=now)
