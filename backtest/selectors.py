"""Reads of the backtest domain: a finished run's robustness, a sweep's parameter sensitivity.

Both compute on stored results (``backtest.robustness``) and write nothing.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pandas as pd
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import ValidationError

from alphaloop.exceptions import ApplicationError
from alphaloop.scoping import owned_by
from backtest import robustness
from backtest.models import BacktestRun
from marketdata.selectors import panel_load

BENCHMARK = "SPY"
REGIME_HISTORY_DAYS = 700
"""Calendar days of SPY before a run its regimes need: a 200-session average and a year of 20-day volatility."""


def run_finished_get(*, user, run_id: int) -> BacktestRun:
    """The user's run, finished; 404 when it is not theirs, 409 while it has no result."""
    run = owned_by(BacktestRun.objects.all(), user, owner_path="user").filter(pk=run_id).first()
    if run is None:
        raise Http404("No such run.")
    if run.status != BacktestRun.SUCCEEDED:
        raise ApplicationError(f"Run #{run.pk} is {run.status.lower()}: only a finished run has results to test.",
                               code="run_not_finished", status_code=status.HTTP_409_CONFLICT)
    return run


def run_equity(run: BacktestRun) -> pd.Series:
    curve = run.equity_curve or []
    return pd.Series([float(p["equity"]) for p in curve], index=pd.DatetimeIndex([p["date"] for p in curve]),
                     name="equity")


def spy_closes(start, end) -> pd.Series | None:
    close = panel_load([BENCHMARK], start - timedelta(days=REGIME_HISTORY_DAYS), end)["close"]
    return close[BENCHMARK].dropna() if BENCHMARK in close else None


def run_robustness(*, run: BacktestRun, paths: int, seed: int, ruin_drawdown: float) -> dict[str, Any]:
    """Monte Carlo on the run's trades and its metrics by SPY regime (``backtest.robustness``)."""
    trades = run.trades or []
    if reason := robustness.draws_check(paths, len(trades)):
        raise ValidationError({"paths": [reason]})
    monte_carlo, monte_carlo_note = None, None
    if len(trades) >= 2:
        returns = robustness.trade_returns(trades, run.equity_curve, float(run.initial_capital))
        monte_carlo = robustness.monte_carlo(returns, initial_capital=float(run.initial_capital), paths=paths,
                                             seed=seed, ruin_drawdown=ruin_drawdown)
    else:
        monte_carlo_note = f"{len(trades)} closed trade(s): Monte Carlo needs 2 at least."
    spy = spy_closes(run.start_date, run.end_date)
    regimes, regimes_note = None, None
    if spy is None or spy.empty:
        regimes_note = f"No {BENCHMARK} bars: regimes are defined on {BENCHMARK}."
    else:
        regimes = robustness.regimes(run_equity(run), trades, spy, risk_free_rate=float(run.risk_free_rate))
    return {"run_id": run.pk, "sweep_id": run.sweep_id, "monte_carlo": monte_carlo,
            "monte_carlo_note": monte_carlo_note, "regimes": regimes, "regimes_note": regimes_note}


def sweep_sensitivity(*, user, sweep_id: uuid.UUID, x: str | None, y: str | None, objective: str) -> dict[str, Any]:
    """The objective over two of the sweep's parameters, the best cell and its neighbours; 404 if not yours."""
    runs = list(owned_by(BacktestRun.objects.all(), user, owner_path="user").filter(sweep_id=sweep_id)
                .order_by("id").values("id", "strategy_id", "params", "metrics", "status"))
    if not runs:
        raise Http404("No such sweep.")
    points = [{"params": r["params"], "metrics": r["metrics"] if r["status"] == BacktestRun.SUCCEEDED else None,
               "run_id": r["id"]} for r in runs]
    varying = robustness.varying_parameters(points)
    names = list(runs[0]["params"])
    x = x or (varying[0] if varying else None)
    if x is None:
        raise ValidationError({"x": ["The sweep varies no parameter."]})
    if y is None and len(varying) > 1:
        y = next(name for name in varying if name != x)
    for field, name in (("x", x), ("y", y)):
        if name is not None and name not in names:
            raise ValidationError({field: [f"{name!r} is not a parameter of the sweep ({', '.join(names)})."]})
    if x == y:
        raise ValidationError({"y": ["x and y must be two different parameters."]})
    result = robustness.sensitivity(points, x=x, y=y, objective=objective)
    return {"sweep_id": sweep_id, "strategy_id": runs[0]["strategy_id"], "runs": len(runs),
            "finished": sum(1 for p in points if p["metrics"] is not None), "varying": varying,
            "best_over": [name for name in varying if name not in (x, y)], **result}
