"""Walk-forward optimisation: optimise on a train window, trade the winner on the next test window.

Pure computation (pandas/numpy in, plain dicts out, no Django); ``backtest.services`` stores the
windows and runs each as a Celery task. The conventions (the README's "Walk-forward" explains them):

- Windows are counted in NYSE sessions. Window k trains on ``train_days`` sessions and tests on the
  next ``test_days``; the next window starts ``step_days`` later (rolling: the train window slides;
  anchored: it always starts at the first session and grows). ``step_days >= test_days``, so the
  test windows never overlap; the last one ends at the last session and may be shorter (2 sessions
  at least).
- Every train or test window is traded from its first session, flat, with the ``train_days``
  sessions before it given to the strategy as history for its indicators (``backtest.window``). A
  train window's backtests are given bars up to its last session only: optimising never sees the
  test window.
- The winner of a train window is the combination with the highest objective (every objective is
  "higher is better": ``max_dd`` is negative, so the shallowest drawdown wins). A combination whose
  objective is undefined (no trade, no volatility) never wins; ties go to the earlier combination
  of the grid. If no combination has a defined objective the test window is not traded (cash).
- The out-of-sample pieces are stitched by chaining their daily returns: every test window is traded
  from the same initial capital (so its size does not depend on the previous window's luck), and a
  position still open at a window's end is valued at that session's close, as a run's open trades
  are. The stitched curve has its own metrics, computed like a run's.
- Walk-forward efficiency (Pardo): a window's out-of-sample CAGR over its in-sample CAGR (the
  winner's), annualised so windows of different lengths compare; overall, the stitched CAGR over
  the mean in-sample CAGR. Undefined (null) when the in-sample CAGR is not positive.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from backtest.engine import CommissionModel
from backtest.metrics import compute_metrics
from backtest.result import MONEY_DECIMALS, RATIO_DECIMALS
from backtest.strategies.base import ParamError, Strategy
from backtest.window import WindowResult, panel_slice, window_backtest

OBJECTIVES: dict[str, str] = {
    "sharpe": "Sharpe ratio",
    "sortino": "Sortino ratio",
    "calmar": "Calmar ratio",
    "cagr": "CAGR",
    "total_return": "total return",
    "profit_factor": "profit factor",
    "expectancy": "expectancy (cash per trade)",
    "win_rate": "win rate",
    "max_dd": "max drawdown (the shallowest wins)",
}
MIN_TEST_SESSIONS = 2
"""A test window needs two sessions at least: one return."""
SUMMARY = ("total_return", "cagr", "sharpe", "sortino", "calmar", "max_dd", "profit_factor", "win_rate",
           "expectancy", "n_trades", "final_equity")


@dataclass(frozen=True)
class WindowPlan:
    """One window: the sessions it trains and tests on, and where each part's history starts."""

    index: int
    train_history: date
    train_start: date
    train_end: date
    test_history: date
    test_start: date
    test_end: date

    def as_dict(self) -> dict[str, Any]:
        return {name: value if isinstance(value, int) else value.isoformat() for name, value in self.__dict__.items()}


def windows_count(n_sessions: int, *, train_days: int, test_days: int, step_days: int) -> int:
    """How many windows ``n_sessions`` hold, counted without building any (the cap is checked on this)."""
    room = n_sessions - train_days
    if room < MIN_TEST_SESSIONS:
        return 0
    return (room - MIN_TEST_SESSIONS) // step_days + 1


def windows_plan(sessions: Sequence[date], history: Sequence[date], *, train_days: int, test_days: int,
                 step_days: int, anchored: bool) -> list[WindowPlan]:
    """The windows over ``sessions``; ``history`` are the sessions before the first (its last ``train_days``)."""
    every = list(history) + list(sessions)
    offset = len(history)

    def history_start(i: int) -> date:
        return every[max(0, offset + i - train_days)]

    plans = []
    n = len(sessions)
    for k in range(windows_count(n, train_days=train_days, test_days=test_days, step_days=step_days)):
        test_first = train_days + k * step_days
        test_last = min(test_first + test_days, n) - 1
        train_first = 0 if anchored else k * step_days
        plans.append(WindowPlan(
            index=k, train_history=history_start(train_first), train_start=sessions[train_first],
            train_end=sessions[test_first - 1], test_history=history_start(test_first),
            test_start=sessions[test_first], test_end=sessions[test_last],
        ))
    return plans


def grid_combinations(strategy_cls: type[Strategy], params: Mapping[str, Any],
                      grid: Mapping[str, list]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every combination of the grid over the fixed ``params``, parsed: (valid ones, skipped ones with the reason).

    A combination the strategy refuses (e.g. ``fast >= slow``) is skipped, not fatal: a grid over two
    ranges usually crosses such a boundary. The caller has counted the grid before calling this.
    """
    valid, skipped = [], []
    for values in itertools.product(*grid.values()):
        combo = {**params, **dict(zip(grid, values, strict=True))}
        try:
            parsed = strategy_cls.parse_params(combo)
        except ParamError as exc:
            skipped.append({"params": dict(zip(grid, values, strict=True)), "reason": str(exc)})
            continue
        valid.append({name: getattr(parsed, name) for name in strategy_cls.param_schema()})
    return valid, skipped


def objective_value(metrics: Mapping[str, Any], objective: str) -> float | None:
    value = metrics.get(objective)
    if value is None or isinstance(value, bool):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _round(value: Any, decimals: int = RATIO_DECIMALS) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    value = float(value)
    return round(value, decimals) if math.isfinite(value) else None


def _summary(metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _round(metrics.get(name), MONEY_DECIMALS if name in ("final_equity", "expectancy") else RATIO_DECIMALS)
            for name in SUMMARY}


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return _round(numerator / denominator)


def window_evaluate(
    panel: Mapping[str, pd.DataFrame],
    strategy_cls: type[Strategy],
    combinations: Sequence[Mapping[str, Any]],
    plan: WindowPlan,
    *,
    objective: str,
    initial_capital: float,
    commission: CommissionModel | float = 0.0,
    slippage_bps: float = 0.0,
    spread: float = 0.0,
    max_volume_fraction: float | None = None,
    risk_free_rate: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Optimise the combinations on the plan's train window, trade the winner on its test window.

    ``panel`` may reach past the test window: each part gets its own slice, the train part ending
    at ``plan.train_end``. ``progress`` is called with the number of combinations done.
    """
    costs = {"initial_capital": initial_capital, "commission": commission, "slippage_bps": slippage_bps,
             "spread": spread, "max_volume_fraction": max_volume_fraction, "risk_free_rate": risk_free_rate}
    train_panel = panel_slice(panel, plan.train_history, plan.train_end)
    scores: list[float | None] = []
    best: tuple[int, float, WindowResult] | None = None
    for i, params in enumerate(combinations):
        result = window_backtest(train_panel, strategy_cls, params, first=plan.train_start, **costs)
        value = objective_value(result.metrics, objective)
        scores.append(value)
        if progress is not None:
            progress(i + 1)
        if value is not None and (best is None or value > best[1]):
            best = (i, value, result)
    test_panel = panel_slice(panel, plan.test_history, plan.test_end)
    window: dict[str, Any] = {**plan.as_dict(), "scores": [_round(v) for v in scores]}
    if best is None:
        dates = test_panel["close"].loc[pd.Timestamp(plan.test_start):].index
        flat = pd.Series(float(initial_capital), index=dates)
        return {**window, "params": None, "note": f"No combination had a defined {objective} in sample: not traded.",
                "objective_in_sample": None, "objective_out_of_sample": None, "in_sample": None,
                "out_of_sample": _summary(compute_metrics(flat, [], risk_free_rate=risk_free_rate)),
                "efficiency": None, "objective_ratio": None, **_curve(flat, pd.Series(False, index=dates)),
                "trades": [], "open_trades": []}
    chosen, in_sample_value, in_sample = best
    test = window_backtest(test_panel, strategy_cls, combinations[chosen], first=plan.test_start, **costs)
    out_value = objective_value(test.metrics, objective)
    return {
        **window,
        "params": dict(combinations[chosen]),
        "combination": chosen,
        "objective_in_sample": _round(in_sample_value),
        "objective_out_of_sample": _round(out_value),
        "in_sample": _summary(in_sample.metrics),
        "out_of_sample": _summary(test.metrics),
        "efficiency": _ratio(test.metrics.get("cagr"), in_sample.metrics.get("cagr")),
        "objective_ratio": _ratio(out_value, in_sample_value),
        **_curve(test.equity, test.exposure),
        "trades": [{**trade.to_dict(), "window": plan.index} for trade in test.trades],
        "open_trades": [{**trade.to_dict(), "window": plan.index} for trade in test.open_trades],
    }


def _curve(equity: pd.Series, exposure: pd.Series) -> dict[str, Any]:
    return {"equity": [[ts.date().isoformat(), round(float(v), MONEY_DECIMALS)] for ts, v in equity.items()],
            "exposure": [bool(v) for v in exposure.to_numpy()]}


def stitch(windows: Sequence[Mapping[str, Any]], *, initial_capital: float, risk_free_rate: float = 0.0,
           benchmark_returns: pd.Series | None = None) -> dict[str, Any]:
    """One out-of-sample curve from the windows' test pieces (chained daily returns), with its metrics.

    Each piece starts at the initial capital, flat; its first session adds no return, the next ones
    add the piece's daily returns. So the stitched curve starts at the capital on the first test
    session and compounds every out-of-sample day once.
    """
    ordered = sorted(windows, key=lambda w: w["index"])
    dates: list[str] = []
    returns: list[float] = []
    exposure: list[bool] = []
    window_of: list[int] = []
    for window in ordered:
        values = np.array([value for _, value in window["equity"]], dtype=float)
        piece = np.concatenate([[0.0], values[1:] / values[:-1] - 1.0]) if len(values) else np.zeros(0)
        dates += [day for day, _ in window["equity"]]
        returns += piece.tolist()
        exposure += list(window["exposure"])
        window_of += [window["index"]] * len(values)
    index = pd.DatetimeIndex(pd.to_datetime(dates), name="date")
    equity = pd.Series(float(initial_capital) * np.cumprod(1.0 + np.asarray(returns)), index=index, name="equity")
    trades = [trade for window in ordered for trade in window["trades"]]
    metrics = compute_metrics(equity, trades, benchmark_returns=benchmark_returns, risk_free_rate=risk_free_rate,
                              exposure=pd.Series(exposure, index=index))
    drawdown = equity / equity.cummax() - 1.0
    if benchmark_returns is not None:
        daily = np.array(benchmark_returns.astype(float).reindex(index).fillna(0.0), dtype=float)
        daily[0] = 0.0
        benchmark = (float(initial_capital) * np.cumprod(1.0 + daily)).round(MONEY_DECIMALS).tolist()
    else:
        benchmark = [None] * len(index)
    in_sample_cagr = [w["in_sample"]["cagr"] for w in ordered if w.get("in_sample") and w["in_sample"]["cagr"] is not None]
    mean_in_sample = float(np.mean(in_sample_cagr)) if in_sample_cagr else None
    return {
        "equity_curve": [
            {"date": day, "equity": round(float(e), MONEY_DECIMALS), "drawdown": round(float(d), RATIO_DECIMALS),
             "benchmark": b, "window": w}
            for day, e, d, b, w in zip(dates, equity.to_numpy(), drawdown.to_numpy(), benchmark, window_of, strict=True)
        ],
        "metrics": {name: _round(value) if not isinstance(value, str) else value for name, value in metrics.items()},
        "trades": trades,
        "open_trades": [trade for window in ordered for trade in window["open_trades"]],
        "in_sample_mean_cagr": _round(mean_in_sample),
        "efficiency": _ratio(metrics.get("cagr"), mean_in_sample),
        "windows_profitable": sum(1 for w in ordered if (w["out_of_sample"]["total_return"] or 0) > 0),
    }
