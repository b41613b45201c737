"""Reads of the backtest domain: a finished run's robustness, a sweep's parameter sensitivity.

Both compute on stored results (``backtest.robustness``) and write nothing.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import date, timedelta
from typing import Any

import pandas as pd
from django.http import Http404
from django.template.loader import render_to_string
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError

from alphaloop.exceptions import ApplicationError
from alphaloop.scoping import owned_by
from backtest import robustness, tearsheet
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


def _equity_series(curve: list[dict]) -> pd.Series:
    return pd.Series([float(p["equity"]) for p in curve], index=pd.DatetimeIndex([p["date"] for p in curve]),
                     name="equity")


def spy_closes(start: date, end: date) -> pd.Series | None:
    history = timedelta(days=REGIME_HISTORY_DAYS)
    close = panel_load([BENCHMARK], max(start, date.min + history) - history, end)["close"]
    return close[BENCHMARK].dropna() if BENCHMARK in close else None


def robustness_report(*, trades: list[dict], equity_curve: list[dict], initial_capital: float, start, end,
                      risk_free_rate: float, paths: int, seed: int, ruin_drawdown: float) -> dict[str, Any]:
    """Monte Carlo on the trades and the metrics by SPY regime of one result (``backtest.robustness``)."""
    if reason := robustness.draws_check(paths, len(trades)):
        raise ValidationError({"paths": [reason]})
    monte_carlo, monte_carlo_note = None, None
    if len(trades) >= 2:
        returns = robustness.trade_returns(trades, equity_curve, initial_capital)
        monte_carlo = robustness.monte_carlo(returns, initial_capital=initial_capital, paths=paths, seed=seed,
                                             ruin_drawdown=ruin_drawdown)
    else:
        monte_carlo_note = f"{len(trades)} closed trade(s): Monte Carlo needs 2 at least."
    spy = spy_closes(start, end)
    regimes, regimes_note = None, None
    if spy is None or spy.empty:
        regimes_note = f"No {BENCHMARK} bars: regimes are defined on {BENCHMARK}."
    else:
        regimes = robustness.regimes(_equity_series(equity_curve), trades, spy, risk_free_rate=risk_free_rate)
    return {"monte_carlo": monte_carlo, "monte_carlo_note": monte_carlo_note, "regimes": regimes,
            "regimes_note": regimes_note}


def run_robustness(*, run: BacktestRun, paths: int, seed: int, ruin_drawdown: float) -> dict[str, Any]:
    """The robustness report of a finished run."""
    report = robustness_report(trades=run.trades or [], equity_curve=run.equity_curve or [],
                               initial_capital=float(run.initial_capital), start=run.start_date, end=run.end_date,
                               risk_free_rate=float(run.risk_free_rate), paths=paths, seed=seed,
                               ruin_drawdown=ruin_drawdown)
    return {"run_id": run.pk, "sweep_id": run.sweep_id, **report}


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


# -- the tearsheet ----------------------------------------------------------------------------------

TEARSHEET_PATHS, TEARSHEET_SEED, TEARSHEET_RUIN = 1000, 1, 0.5
"""The tearsheet's Monte Carlo: 1,000 paths (fewer when the run has too many trades), seed 1, ruin at -50 %."""


def tearsheet_render(run: dict[str, Any], robustness_data: dict[str, Any] | None,
                     sensitivity: dict[str, Any] | None) -> tuple[str, dict[str, bytes]]:
    """The tearsheet page (self-contained HTML) and its plots as PNG files, for a run's stored shape."""
    images = tearsheet.tearsheet_images(run, robustness_data, sensitivity)
    context = tearsheet.tearsheet_context(run, robustness_data, sensitivity, images)
    context["params_text"] = json.dumps(run.get("params") or {}, sort_keys=True)
    context["generated_at"] = timezone.now().strftime("%Y-%m-%d %H:%M UTC")
    return render_to_string("backtest/tearsheet.html", context), images


def run_tearsheet(*, run: BacktestRun) -> tuple[str, dict[str, bytes]]:
    """A finished run's tearsheet with its robustness and, for a run of a sweep, the sweep's sensitivity."""
    from backtest.serializers import RunResultSerializer

    data = {**RunResultSerializer(run).data, "id": run.pk}
    trades = run.trades or []
    paths = max(10, min(TEARSHEET_PATHS, robustness.MAX_DRAWS // max(len(trades), 1)))
    report = run_robustness(run=run, paths=paths, seed=TEARSHEET_SEED, ruin_drawdown=TEARSHEET_RUIN)
    sensitivity = None
    if run.sweep_id:
        try:
            sensitivity = sweep_sensitivity(user=run.user, sweep_id=run.sweep_id, x=None, y=None, objective="sharpe")
        except ValidationError:
            sensitivity = None  # a sweep that varies nothing has no heatmap
    return tearsheet_render(data, report, sensitivity)


def tearsheet_write(spec, data: dict[str, Any], path) -> None:
    """Write the tearsheet of a result computed in this process (``run_backtest --tearsheet FILE``)."""
    run = {**data, "id": None, "start_date": spec.start_date.isoformat(), "end_date": spec.end_date.isoformat(),
           "commission": spec.commission, "slippage_bps": spec.slippage_bps, "spread": spec.spread,
           "max_volume_fraction": spec.max_volume_fraction, "risk_free_rate": spec.risk_free_rate,
           "default_universe": spec.default_universe}
    trades = data["trades"]
    report = robustness_report(trades=trades, equity_curve=data["equity_curve"],
                               initial_capital=float(spec.initial_capital), start=spec.start_date, end=spec.end_date,
                               risk_free_rate=float(spec.risk_free_rate or 0),
                               paths=max(10, min(TEARSHEET_PATHS, robustness.MAX_DRAWS // max(len(trades), 1))),
                               seed=TEARSHEET_SEED, ruin_drawdown=TEARSHEET_RUIN)
    html, _ = tearsheet_render(run, report, None)
    with open(path, "w", encoding="utf-8") as file:
        file.write(html)


def tearsheet_zip(html: str, images: dict[str, bytes]) -> bytes:
    """The page and its plots in one zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("tearsheet.html", html)
        for name, png in images.items():
            archive.writestr(name, png)
    return buffer.getvalue()
