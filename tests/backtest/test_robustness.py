"""Robustness: Monte Carlo on trade returns, metrics by SPY regime, a sweep's parameter sensitivity.

The Monte Carlo and regime numbers are checked against references written here with plain Python
loops (only the random draws follow the documented protocol, so that both see the same paths).
"""

from __future__ import annotations

import math
import statistics
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from backtest import robustness
from backtest.models import BacktestRun

CAPITAL = 10_000.0
RETURNS = [0.031, -0.022, 0.054, -0.048, 0.012, 0.0, -0.071, 0.093, 0.018, -0.015, 0.026, -0.039]


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between order statistics (Hyndman & Fan type 7), written out."""
    ordered = sorted(values)
    h = (len(ordered) - 1) * p / 100
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def walk(returns: list[float]) -> tuple[float, float]:
    """Final equity and max drawdown of one path, trade by trade."""
    equity = peak = CAPITAL
    worst = 0.0
    for r in returns:
        equity = equity * (1 + max(r, -1.0))
        peak = max(peak, equity)
        worst = min(worst, equity / peak - 1 if peak > 0 else -1.0)
    return equity, worst


def reference(returns: list[float], paths: int, seed: int, method: str) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(seed)
    finals, drawdowns = [], []
    for _ in range(paths):
        if method == "bootstrap":
            order = [returns[i] for i in rng.integers(0, len(returns), size=len(returns))]
        else:
            keys = rng.random(len(returns)).tolist()
            order = [returns[i] for i in sorted(range(len(returns)), key=keys.__getitem__)]
        final, drawdown = walk(order)
        finals.append(final)
        drawdowns.append(drawdown)
    return finals, drawdowns


@pytest.mark.parametrize("method", ["bootstrap", "shuffle"])
def test_monte_carlo_percentiles_and_ruin_match_a_loop_by_loop_reference(method):
    report = robustness.monte_carlo(np.array(RETURNS), initial_capital=CAPITAL, paths=2000, seed=42, ruin_drawdown=0.1)
    finals, drawdowns = reference(RETURNS, 2000, 42, method)

    result = report[method]
    for p in (5, 25, 50, 75, 95):
        assert result["final_equity"][f"p{p}"] == pytest.approx(percentile(finals, p), abs=1e-6)
        assert result["max_drawdown"][f"p{p}"] == pytest.approx(percentile(drawdowns, p), abs=1e-6)
        assert result["total_return"][f"p{p}"] == pytest.approx(percentile(finals, p) / CAPITAL - 1, abs=1e-6)
    assert result["probability_of_ruin"] == sum(d <= -0.1 for d in drawdowns) / 2000
    assert result["probability_of_loss"] == sum(f < CAPITAL for f in finals) / 2000
    assert sum(result["histogram"]["final_equity"]["counts"]) == 2000
    actual = report["actual"]
    assert (actual["final_equity"], actual["max_drawdown"]) == (round(walk(RETURNS)[0], 2), round(walk(RETURNS)[1], 6))
    assert actual["fan"] == [round(walk(RETURNS[:k])[0], 2) for k in range(len(RETURNS) + 1)]  # every trade: n < 200
    assert result["fan"]["trade"] == list(range(len(RETURNS) + 1))


def test_the_same_seed_gives_the_same_paths_and_another_seed_others():
    first = robustness.monte_carlo(np.array(RETURNS), initial_capital=CAPITAL, paths=500, seed=7, ruin_drawdown=0.1)
    again = robustness.monte_carlo(np.array(RETURNS), initial_capital=CAPITAL, paths=500, seed=7, ruin_drawdown=0.1)
    other = robustness.monte_carlo(np.array(RETURNS), initial_capital=CAPITAL, paths=500, seed=8, ruin_drawdown=0.1)

    assert first == again
    assert first["bootstrap"]["final_equity"] != other["bootstrap"]["final_equity"]


def test_a_reshuffle_keeps_the_final_equity_and_only_moves_the_drawdown():
    report = robustness.monte_carlo(np.array(RETURNS), initial_capital=CAPITAL, paths=300, seed=3, ruin_drawdown=0.1)

    final = report["actual"]["final_equity"]
    assert all(v == pytest.approx(final, abs=0.005) for v in report["shuffle"]["final_equity"].values())  # cents
    assert report["shuffle"]["max_drawdown"]["p5"] < report["shuffle"]["max_drawdown"]["p95"] <= 0


def test_on_returns_a_shuffle_can_never_lose_more_than_everything():
    """jesse #607: shuffling absolute P&L of an account that grew tenfold gave a -2204 % drawdown."""
    # $100 trades early on a $10,000 account, $20,000 trades late on a $100,000 one.
    curve = [{"date": f"2024-01-{d:02d}", "equity": e} for d, e in
             [(1, 10_000), (2, 10_100), (3, 10_000), (4, 100_000), (5, 80_000), (6, 100_000), (7, 80_000)]]
    trades = [{"entry_date": "2024-01-02", "pnl": 100}, {"entry_date": "2024-01-03", "pnl": -100},
              {"entry_date": "2024-01-04", "pnl": 90_000}, {"entry_date": "2024-01-05", "pnl": -20_000},
              {"entry_date": "2024-01-06", "pnl": 20_000}, {"entry_date": "2024-01-07", "pnl": -20_000}]
    returns = robustness.trade_returns(trades, curve, 10_000)

    assert returns.tolist() == pytest.approx([100 / 10_000, -100 / 10_100, 90_000 / 10_000, -20_000 / 100_000,
                                              20_000 / 80_000, -20_000 / 100_000])
    absolute = [t["pnl"] for t in trades]
    shuffled_dollars = 10_000 + min(np.cumsum([absolute[i] for i in (3, 5, 1, 0, 2, 4)]))  # the naive way: -$30,100
    assert shuffled_dollars < 0
    report = robustness.monte_carlo(returns, initial_capital=10_000, paths=1000, seed=1, ruin_drawdown=0.5)
    for method in ("bootstrap", "shuffle"):
        assert -1.0 <= report[method]["histogram"]["max_drawdown"]["edges"][0]
        assert report[method]["final_equity"]["p5"] > 0


def test_a_trade_is_weighed_against_the_equity_before_its_entry():
    curve = [{"date": "2024-01-02", "equity": 10_000}, {"date": "2024-01-03", "equity": 12_000},
             {"date": "2024-01-04", "equity": 8_000}]
    trades = [{"entry_date": "2024-01-02", "pnl": 500}, {"entry_date": "2024-01-04", "pnl": -600},
              {"entry_date": "2024-01-05", "pnl": 400}]

    returns = robustness.trade_returns(trades, curve, 9_000)

    assert returns.tolist() == [500 / 9_000, -600 / 12_000, 400 / 8_000]


def test_too_many_draws_are_refused_before_any_path_is_drawn():
    assert robustness.draws_check(10_000, 500) is None
    assert robustness.draws_check(10_000, 501) == ("10000 paths x 501 trades = 5010000 draws; at most 5000000 "
                                                   "(at most 9980 paths for this run).")


def _sessions(n: int) -> pd.DatetimeIndex:
    return pd.bdate_range("2020-01-01", periods=n)


def reference_regimes(spy: list[float]) -> list[tuple[str | None, str | None]]:
    """(trend, volatility) of each day as known at the previous close, with plain loops."""
    decided = []
    for t in range(len(spy)):
        trend = None
        if t >= 199:
            average = sum(spy[t - 199 : t + 1]) / 200
            trend = "up" if spy[t] > average else "down"
        vol = None
        if t >= 20:
            vol = statistics.stdev([spy[i] / spy[i - 1] - 1 for i in range(t - 19, t + 1)]) * math.sqrt(252)
        decided.append((trend, vol))
    labels = []
    for t in range(len(spy)):
        if t == 0:
            labels.append((None, None))
            continue
        trend, vol = decided[t - 1]
        past = [v for _, v in decided[max(0, t - 1 - 251) : t]][-252:]
        past = [v for v in past if v is not None]
        level = None
        if vol is not None and len(past) >= 60:
            level = "high" if vol > statistics.median(past) else "low"
        labels.append((trend, level))
    return labels


def test_regimes_split_days_and_trades_as_a_loop_by_loop_reference_does():
    rng = np.random.default_rng(5)
    n = 600
    # SPY: calm rise, a volatile fall, a calm recovery.
    steps = np.concatenate([rng.normal(0.001, 0.005, 300), rng.normal(-0.003, 0.03, 150), rng.normal(0.002, 0.006, 150)])
    spy = (100 * np.cumprod(1 + steps)).tolist()
    index = _sessions(n)
    strategy_returns = rng.normal(0.0005, 0.01, n - 350)
    equity = pd.Series(10_000 * np.cumprod(np.concatenate([[1.0], 1 + strategy_returns[1:]])), index=index[350:])
    trades = [{"entry_date": index[t].date().isoformat(), "pnl": p, "return_pct": p / 1000}
              for t, p in ((360, 50.0), (420, -30.0), (500, 80.0), (560, -10.0))]

    report = robustness.regimes(equity, trades, pd.Series(spy, index=index))

    labels = reference_regimes(spy)
    values = equity.to_numpy()
    by_regime = {"spy_above_200d": [], "spy_below_200d": [], "high_volatility": [], "low_volatility": []}
    spy_by_regime = {key: [] for key in by_regime}
    for k in range(1, len(values)):
        trend, level = labels[350 + k]
        r = values[k] / values[k - 1] - 1
        spy_r = spy[350 + k] / spy[350 + k - 1] - 1
        for key, inside in (("spy_above_200d", trend == "up"), ("spy_below_200d", trend == "down"),
                            ("high_volatility", level == "high"), ("low_volatility", level == "low")):
            if inside:
                by_regime[key].append(r)
                spy_by_regime[key].append(spy_r)
    rows = {row["regime"]: row for row in report["regimes"]}
    assert report["days"] == n - 350 - 1 and report["unclassified_trend_days"] == 0
    assert all(by_regime[key] for key in by_regime)  # every regime occurs
    for key, returns in by_regime.items():
        assert rows[key]["days"] == len(returns)
        assert rows[key]["total_return"] == pytest.approx(math.prod(1 + r for r in returns) - 1, abs=1e-6)
        assert rows[key]["spy_total_return"] == pytest.approx(math.prod(1 + r for r in spy_by_regime[key]) - 1, abs=1e-6)
        assert rows[key]["annual_volatility"] == pytest.approx(statistics.stdev(returns) * math.sqrt(252), abs=1e-6)
        entered = [t for t in trades if {"spy_above_200d": labels[index.get_loc(pd.Timestamp(t["entry_date"]))][0] == "up",
                                         "spy_below_200d": labels[index.get_loc(pd.Timestamp(t["entry_date"]))][0] == "down",
                                         "high_volatility": labels[index.get_loc(pd.Timestamp(t["entry_date"]))][1] == "high",
                                         "low_volatility": labels[index.get_loc(pd.Timestamp(t["entry_date"]))][1] == "low"}[key]]
        assert rows[key]["trades"]["n_trades"] == len(entered)
        assert rows[key]["trades"]["pnl"] == sum(t["pnl"] for t in entered)


def test_sensitivity_is_the_objective_over_two_parameters_and_the_best_cell_against_its_neighbours():
    values = {(5, 20): 0.4, (5, 50): 0.6, (5, 100): 0.5, (10, 20): 0.7, (10, 50): 1.9, (10, 100): 0.8,
              (20, 20): 0.3, (20, 50): 0.9, (20, 100): None}
    points = [{"params": {"fast": f, "slow": s, "allow_short": short}, "run_id": i * 2 + short,
               "metrics": None if v is None else {"sharpe": v - (0.5 if short else 0)}}
              for i, ((f, s), v) in enumerate(values.items()) for short in (False, True)]

    result = robustness.sensitivity(points, x="slow", y="fast", objective="sharpe")

    assert robustness.varying_parameters(points) == ["fast", "slow", "allow_short"]
    assert result["x"] == {"name": "slow", "values": [20, 50, 100]}
    assert result["y"] == {"name": "fast", "values": [5, 10, 20]}
    assert result["cells"] == [[0.4, 0.6, 0.5], [0.7, 1.9, 0.8], [0.3, 0.9, None]]  # the best over allow_short
    assert result["best"] == {"x": 50, "y": 10, "value": 1.9, "run_id": 8}
    mean = (0.4 + 0.6 + 0.5 + 0.7 + 0.8 + 0.3 + 0.9) / 7
    assert result["neighbours"] == {"count": 7, "mean": round(mean, 6), "min": 0.3, "max": 0.9,
                                    "drop": round(1.9 - mean, 6), "relative_drop": round((1.9 - mean) / 1.9, 6)}


# -- through the API ------------------------------------------------------------------------------


def _run(user, trades, curve, **fields):
    return BacktestRun.objects.create(
        user=user, strategy_id="sma_cross", params={"fast": 10, "slow": 30}, symbols=["AAPL"],
        start_date=date.fromisoformat(curve[0]["date"]), end_date=date.fromisoformat(curve[-1]["date"]),
        initial_capital=Decimal(10000), status=fields.pop("status", "SUCCEEDED"), trades=trades, equity_curve=curve,
        metrics={}, **fields)


def test_the_robustness_of_a_finished_run_through_the_api(committing_api, other_api, spy_aapl_msft_bars):
    api = committing_api
    body = {"strategy_id": "sma_cross", "start_date": "2024-01-02", "end_date": "2025-12-31", "initial_capital": "10000",
            "params": {"fast": 5, "slow": 20}, "symbols": ["AAPL"]}
    run_id = api.post("/api/v1/backtest/run", body, format="json").data["id"]
    run = BacktestRun.objects.get(pk=run_id)

    response = api.get(f"/api/v1/backtest/results/{run_id}/robustness?paths=400&seed=9&ruin_pct=20")

    assert response.status_code == 200, response.data
    report = response.data
    returns = robustness.trade_returns(run.trades, run.equity_curve, 10_000)
    finals, drawdowns = reference(returns.tolist(), 400, 9, "bootstrap")
    monte = report["monte_carlo"]
    assert (monte["paths"], monte["seed"], monte["ruin_drawdown"], monte["n_trades"]) == (400, 9, 0.2, len(run.trades))
    assert monte["bootstrap"]["final_equity"]["p50"] == pytest.approx(percentile(finals, 50), abs=1e-6)
    assert monte["bootstrap"]["probability_of_ruin"] == sum(d <= -0.2 for d in drawdowns) / 400
    assert api.get(f"/api/v1/backtest/results/{run_id}/robustness?paths=400&seed=9&ruin_pct=20").data == report
    assert [r["regime"] for r in report["regimes"]["regimes"]] == ["spy_above_200d", "spy_below_200d",
                                                                    "high_volatility", "low_volatility"]
    assert other_api.get(f"/api/v1/backtest/results/{run_id}/robustness").status_code == 404


def test_robustness_refuses_too_many_draws_an_unfinished_run_and_explains_a_run_with_too_few_trades(user, api):
    curve = [{"date": f"2024-02-{d:02d}", "equity": 10_000 + d} for d in range(1, 29)]
    many = _run(user, [{"entry_date": "2024-02-02", "pnl": 1.0, "return_pct": 0.001}] * 600, curve)
    refused = api.get(f"/api/v1/backtest/results/{many.pk}/robustness?paths=10000")
    assert refused.status_code == 400
    assert refused.data["paths"] == ["10000 paths x 600 trades = 6000000 draws; at most 5000000 (at most 8333 paths "
                                     "for this run)."]
    running = _run(user, None, curve, status="RUNNING")
    conflict = api.get(f"/api/v1/backtest/results/{running.pk}/robustness")
    assert conflict.status_code == 409 and conflict.data["code"] == "run_not_finished"
    lonely = api.get(f"/api/v1/backtest/results/{_run(user, [], curve).pk}/robustness").data
    assert lonely["monte_carlo"] is None and lonely["monte_carlo_note"] == "0 closed trade(s): Monte Carlo needs 2 at least."
    assert lonely["regimes"] is None and lonely["regimes_note"] == "No SPY bars: regimes are defined on SPY."


def test_a_sweep_heatmap_through_the_api(committing_api, other_api, spy_aapl_msft_bars):
    api = committing_api
    body = {"strategy_id": "sma_cross", "start_date": "2024-01-02", "end_date": "2025-12-31", "initial_capital": "10000",
            "params": {}, "symbols": ["AAPL"], "grid": {"fast": [5, 10, 15], "slow": [30, 60]}}
    sweep_id = api.post("/api/v1/backtest/sweep", body, format="json").data["sweep_id"]
    runs = {(r.params["fast"], r.params["slow"]): r for r in BacktestRun.objects.filter(sweep_id=sweep_id)}

    heatmap = api.get(f"/api/v1/backtest/sweeps/{sweep_id}/sensitivity").data

    assert (heatmap["x"], heatmap["y"]) == ({"name": "fast", "values": [5, 10, 15]}, {"name": "slow", "values": [30, 60]})
    assert heatmap["cells"] == [[round(runs[(f, s)].metrics["sharpe"], 6) for f in (5, 10, 15)] for s in (30, 60)]
    best = max(runs.values(), key=lambda r: r.metrics["sharpe"])
    assert heatmap["best"]["run_id"] == best.pk and heatmap["finished"] == heatmap["runs"] == 6
    by_return = api.get(f"/api/v1/backtest/sweeps/{sweep_id}/sensitivity?x=slow&objective=total_return").data
    assert by_return["x"]["name"] == "slow" and by_return["y"]["name"] == "fast"
    assert api.get(f"/api/v1/backtest/sweeps/{sweep_id}/sensitivity?x=period").status_code == 400
    assert other_api.get(f"/api/v1/backtest/sweeps/{sweep_id}/sensitivity").status_code == 404


def test_a_run_from_the_first_centuries_gets_its_robustness_not_an_error(user, api, spy_aapl_msft_bars):
    curve = [{"date": "0002-03-01", "equity": 10_000}, {"date": "2024-01-02", "equity": 10_000},
             {"date": "2024-01-03", "equity": 10_100}]
    run = _run(user, [{"entry_date": "2024-01-02", "pnl": 100.0, "return_pct": 0.01}] * 2, curve)

    response = api.get(f"/api/v1/backtest/results/{run.pk}/robustness")

    assert response.status_code == 200 and response.data["monte_carlo"]["n_trades"] == 2
