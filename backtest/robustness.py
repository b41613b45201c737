"""Will it hold up? Monte Carlo on a run's trades, its metrics by market regime, a sweep's sensitivity.

Pure computation (numpy/pandas in, plain dicts out, no Django). The conventions, which the README's
"Robustness" section explains:

Monte Carlo, on returns (never on absolute P&L):
- A trade's return is its net P&L over the account's equity at the close before its entry: its
  weight in the account (a trade that used a quarter of the equity counts a quarter). Trades are
  taken in the order they closed.
- A path compounds ``n`` trade returns from the initial capital: ``E_k = E_{k-1} x (1 + r_k)``.
  Equity cannot go below zero (a trade losing more than the equity ends the path at 0), and a
  drawdown is measured from the running peak, so it lies in [-100 %, 0]: the -2204 % "drawdown" of
  shuffling absolute P&L (jesse #607) cannot happen.
- ``bootstrap``: each path draws ``n`` returns with replacement: other trades, other luck.
  ``shuffle``: each path is the same ``n`` returns in another order: the same final equity, other
  drawdowns.
- Random numbers: numpy's ``default_rng(seed)`` (PCG64), one generator per method. Bootstrap path
  ``p`` takes the indices ``rng.integers(0, n, size=n)`` (path after path); shuffle path ``p`` orders
  the trades by ``argsort(rng.random(n))``. Same seed, same paths, on any machine.
- Percentiles are numpy's default (linear interpolation between order statistics). The probability
  of ruin at ``ruin_drawdown`` (e.g. 0.5) is the share of paths whose maximum drawdown reached
  ``-ruin_drawdown`` or worse. Drawdowns are measured between trade closes (not inside a trade or
  a day), so they are shallower than the daily curve's; ``actual`` gives the run's own trade
  sequence measured the same way, to compare like with like.

Regimes (SPY, decided at the previous session's close, so a day's regime was known before it traded):
- trend: SPY's close above (or below) its 200-session simple average;
- volatility: SPY's 20-session realised volatility (stdev of daily returns x sqrt 252) above (high)
  or at/below (low) its own median over the previous 252 sessions (60 at least);
- days before SPY has that much history are "unclassified". A trade belongs to the regime of its
  entry day.

Sensitivity (a parameter sweep): the objective of each finished run on a grid over two parameters
(the best over any other parameter the sweep varied); the best cell against its neighbours (the
up to 8 adjacent cells of the grid, in sorted value order): a peak far above its neighbours is
fragile, a plateau is robust.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

PERCENTILES = (5, 25, 50, 75, 95)
MAX_DRAWS = 5_000_000
"""Most trade draws (paths x trades) one Monte Carlo may compute: checked before any path is drawn."""
CHUNK_DRAWS = 500_000
FAN_POINTS = 200
HISTOGRAM_BINS = 30
PERIODS = 252
TREND_SESSIONS = 200
VOLATILITY_SESSIONS = 20
VOLATILITY_MEDIAN_SESSIONS = 252
VOLATILITY_MEDIAN_MIN = 60
REGIMES = {
    "spy_above_200d": "SPY above its 200-day average",
    "spy_below_200d": "SPY below its 200-day average",
    "high_volatility": "High volatility (SPY 20-day vol above its 1-year median)",
    "low_volatility": "Low volatility (SPY 20-day vol at or below its 1-year median)",
}


def _finite(value: float | None, decimals: int = 6) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, decimals) if math.isfinite(value) else None


# -- Monte Carlo --------------------------------------------------------------------------------


def trade_returns(trades: Sequence[Mapping[str, Any]], equity_curve: Sequence[Mapping[str, Any]],
                  initial_capital: float) -> np.ndarray:
    """Each closed trade's net P&L over the equity at the close before its entry day, in closing order."""
    dates = [point["date"] for point in equity_curve]
    values = [float(point["equity"]) for point in equity_curve]
    returns = []
    for trade in trades:
        before = bisect.bisect_left(dates, str(trade["entry_date"])) - 1
        base = values[before] if before >= 0 else float(initial_capital)
        returns.append(float(trade["pnl"]) / base if base > 0 else -1.0)
    return np.asarray(returns, dtype=float)


def draws_check(paths: int, n_trades: int) -> str | None:
    """Why ``paths`` x ``n_trades`` is too much to draw, or None; counted before anything is built."""
    if paths * n_trades <= MAX_DRAWS:
        return None
    most = max(1, MAX_DRAWS // max(n_trades, 1))
    return (f"{paths} paths x {n_trades} trades = {paths * n_trades} draws; at most {MAX_DRAWS} "
            f"(at most {most} paths for this run).")


def _path_stats(returns: np.ndarray, capital: float, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Final equity, max drawdown and the equity at ``columns`` (0 = the start) of each row of returns."""
    rows = returns.shape[0]
    equity = capital * np.cumprod(1.0 + np.maximum(returns, -1.0), axis=1)
    with_start = np.concatenate([np.full((rows, 1), capital), equity], axis=1)
    peaks = np.maximum.accumulate(with_start, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        drawdown = np.where(peaks > 0, with_start / peaks - 1.0, -1.0)
    return with_start[:, -1], drawdown.min(axis=1), with_start[:, columns]


def _distribution(values: np.ndarray) -> dict[str, float | None]:
    return {f"p{p}": _finite(v) for p, v in zip(PERCENTILES, np.percentile(values, PERCENTILES), strict=True)}


def _histogram(values: np.ndarray) -> dict[str, list]:
    values = np.round(values, 6)  # a reshuffle's equal finals differ in their last bits only
    low, high = float(values.min()), float(values.max())
    if high == low:
        pad = max(abs(low), 1.0) * 1e-3
        low, high = low - pad, high + pad
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS, range=(low, high))
    return {"edges": [_finite(e) for e in edges], "counts": counts.tolist()}


def _method(name: str, returns: np.ndarray, *, capital: float, paths: int, seed: int, ruin_drawdown: float,
            columns: np.ndarray) -> dict[str, Any]:
    n = len(returns)
    rng = np.random.default_rng(seed)
    finals, drawdowns, fans = [], [], []
    chunk = max(1, CHUNK_DRAWS // n)
    for start in range(0, paths, chunk):
        rows = min(chunk, paths - start)
        if name == "bootstrap":
            drawn = returns[rng.integers(0, n, size=(rows, n))]
        else:
            drawn = returns[np.argsort(rng.random((rows, n)), axis=1)]
        final, drawdown, fan = _path_stats(drawn, capital, columns)
        finals.append(final)
        drawdowns.append(drawdown)
        fans.append(fan)
    final = np.concatenate(finals)
    drawdown = np.concatenate(drawdowns)
    fan = np.vstack(fans)
    bands = np.percentile(fan, PERCENTILES, axis=0)
    return {
        "final_equity": _distribution(final),
        "total_return": _distribution(final / capital - 1.0),
        "max_drawdown": _distribution(drawdown),
        "probability_of_ruin": _finite(float(np.mean(drawdown <= -ruin_drawdown))),
        "probability_of_loss": _finite(float(np.mean(final < capital))),
        "fan": {"trade": columns.tolist(),
                **{f"p{p}": [_finite(v, 2) for v in band] for p, band in zip(PERCENTILES, bands, strict=True)}},
        "histogram": {"final_equity": _histogram(final), "max_drawdown": _histogram(drawdown)},
    }


def monte_carlo(returns: np.ndarray, *, initial_capital: float, paths: int, seed: int,
                ruin_drawdown: float) -> dict[str, Any]:
    """The bootstrap and shuffle distributions of ``paths`` paths over the trade ``returns`` (see the module doc)."""
    returns = np.asarray(returns, dtype=float)
    n = len(returns)
    capital = float(initial_capital)
    columns = np.unique(np.linspace(0, n, min(n + 1, FAN_POINTS + 1)).round().astype(int))
    final, drawdown, actual_fan = _path_stats(returns[None, :], capital, columns)
    bootstrap = _method("bootstrap", returns, capital=capital, paths=paths, seed=seed,
                        ruin_drawdown=ruin_drawdown, columns=columns)
    shuffle = _method("shuffle", returns, capital=capital, paths=paths, seed=seed,
                      ruin_drawdown=ruin_drawdown, columns=columns)
    return {
        "paths": paths, "seed": seed, "ruin_drawdown": ruin_drawdown, "n_trades": n,
        "initial_capital": _finite(capital, 2),
        "trade_returns": {"mean": _finite(returns.mean()), "std": _finite(returns.std(ddof=1)) if n > 1 else None,
                          "worst": _finite(returns.min()), "best": _finite(returns.max())},
        "actual": {"final_equity": _finite(final[0], 2), "max_drawdown": _finite(drawdown[0]),
                   "fan": [_finite(v, 2) for v in actual_fan[0]]},
        "bootstrap": bootstrap,
        "shuffle": shuffle,
    }


# -- regimes --------------------------------------------------------------------------------------


def regime_labels(spy_close: pd.Series) -> pd.DataFrame:
    """Per SPY session: ``trend`` ("up"/"down") and ``volatility`` ("high"/"low"), None where undefined,
    as known at the previous session's close (a day's regime is decided before it trades)."""
    close = spy_close.dropna().astype(float)
    average = close.rolling(TREND_SESSIONS).mean()
    trend = pd.Series(np.where(close > average, "up", "down"), index=close.index).where(average.notna())
    volatility = close.pct_change().rolling(VOLATILITY_SESSIONS).std(ddof=1) * math.sqrt(PERIODS)
    median = volatility.rolling(VOLATILITY_MEDIAN_SESSIONS, min_periods=VOLATILITY_MEDIAN_MIN).median()
    level = pd.Series(np.where(volatility > median, "high", "low"), index=close.index)
    level = level.where(volatility.notna() & median.notna())
    return pd.DataFrame({"trend": trend, "volatility": level}).shift(1)


def _day_stats(returns: np.ndarray, spy: np.ndarray, rf: float) -> dict[str, Any]:
    days = len(returns)
    if not days:
        return {"days": 0, "total_return": None, "annual_return": None, "annual_volatility": None,
                "sharpe": None, "best_day": None, "worst_day": None, "spy_total_return": None}
    total = float(np.prod(1.0 + returns) - 1.0)
    excess = returns - rf
    std = float(np.std(excess, ddof=1)) if days > 1 else 0.0
    return {
        "days": days,
        "total_return": _finite(total),
        "annual_return": _finite((1.0 + total) ** (PERIODS / days) - 1.0) if total > -1 else -1.0,
        "annual_volatility": _finite(float(np.std(returns, ddof=1)) * math.sqrt(PERIODS)) if days > 1 else None,
        "sharpe": _finite(float(np.mean(excess)) / std * math.sqrt(PERIODS)) if std > 0 else None,
        "best_day": _finite(returns.max()),
        "worst_day": _finite(returns.min()),
        "spy_total_return": _finite(float(np.nanprod(1.0 + spy) - 1.0)),
    }


def _trade_stats(trades: list[Mapping[str, Any]]) -> dict[str, Any]:
    pnl = np.array([float(t["pnl"]) for t in trades])
    returns = np.array([float(t["return_pct"]) for t in trades])
    loss = float(pnl[pnl < 0].sum()) if len(pnl) else 0.0
    return {
        "n_trades": len(trades),
        "win_rate": _finite(float(np.mean(pnl > 0))) if len(pnl) else None,
        "avg_return": _finite(returns.mean()) if len(pnl) else None,
        "pnl": _finite(pnl.sum(), 2) if len(pnl) else 0.0,
        "profit_factor": _finite(float(pnl[pnl > 0].sum()) / -loss) if loss < 0 else None,
    }


def regimes(equity: pd.Series, trades: Iterable[Mapping[str, Any]], spy_close: pd.Series, *,
            risk_free_rate: float = 0.0) -> dict[str, Any]:
    """The run's daily returns and trades split by SPY's trend and volatility regimes (module doc)."""
    labels = regime_labels(spy_close).reindex(equity.index)
    returns = equity.astype(float).pct_change()
    spy_returns = spy_close.astype(float).pct_change().reindex(equity.index)
    rf = (1.0 + risk_free_rate) ** (1.0 / PERIODS) - 1.0
    by_day = {ts.date().isoformat(): (labels.at[ts, "trend"], labels.at[ts, "volatility"]) for ts in equity.index}
    masks = {
        "spy_above_200d": labels["trend"] == "up", "spy_below_200d": labels["trend"] == "down",
        "high_volatility": labels["volatility"] == "high", "low_volatility": labels["volatility"] == "low",
    }
    trades = list(trades)
    days_total = len(returns) - 1
    rows = []
    for key, mask in masks.items():
        mask = mask.to_numpy() & returns.notna().to_numpy()
        in_regime = [t for t in trades if _trade_in(by_day.get(str(t["entry_date"])), key)]
        rows.append({
            "regime": key, "label": REGIMES[key],
            **_day_stats(returns.to_numpy()[mask], spy_returns.to_numpy()[mask], rf),
            "share_of_days": _finite(mask.sum() / days_total) if days_total > 0 else None,
            "trades": _trade_stats(in_regime),
        })
    unclassified = int((labels["trend"].isna() & returns.notna()).sum())
    return {"regimes": rows, "days": days_total, "unclassified_trend_days": unclassified,
            "unclassified_volatility_days": int((labels["volatility"].isna() & returns.notna()).sum())}


def _trade_in(day_labels: tuple[Any, Any] | None, regime: str) -> bool:
    if day_labels is None:
        return False
    trend, volatility = day_labels
    return {"spy_above_200d": trend == "up", "spy_below_200d": trend == "down",
            "high_volatility": volatility == "high", "low_volatility": volatility == "low"}[regime]


# -- sensitivity ----------------------------------------------------------------------------------


def _value_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, (int, float)):
        return (1, value)
    return (2, str(value))


def varying_parameters(points: Sequence[Mapping[str, Any]]) -> list[str]:
    """Parameters that take more than one value over the sweep's runs, in their first run's order."""
    if not points:
        return []
    names = list(points[0]["params"])
    return [name for name in names if len({repr(p["params"].get(name)) for p in points}) > 1]


def sensitivity(points: Sequence[Mapping[str, Any]], *, x: str, y: str | None, objective: str) -> dict[str, Any]:
    """The objective over ``x`` (columns) and ``y`` (rows; None: one row) and the best cell against its neighbours.

    ``points`` are ``{"params", "metrics" (None if unfinished), "run_id"}``.
    """
    xs = sorted({p["params"][x] for p in points}, key=_value_key)
    ys = sorted({p["params"][y] for p in points}, key=_value_key) if y else [None]
    cells: dict[tuple[int, int], tuple[float, int]] = {}
    for point in points:
        metrics = point.get("metrics") or {}
        value = metrics.get(objective)
        if value is None or isinstance(value, bool) or not math.isfinite(float(value)):
            continue
        key = (ys.index(point["params"][y]) if y else 0, xs.index(point["params"][x]))
        if key not in cells or float(value) > cells[key][0]:
            cells[key] = (float(value), point["run_id"])
    grid = [[_finite(cells[(r, c)][0]) if (r, c) in cells else None for c in range(len(xs))] for r in range(len(ys))]
    run_ids = [[cells[(r, c)][1] if (r, c) in cells else None for c in range(len(xs))] for r in range(len(ys))]
    best = max(cells.items(), key=lambda item: (item[1][0], -item[0][0], -item[0][1]), default=None)
    result: dict[str, Any] = {
        "objective": objective, "x": {"name": x, "values": xs}, "y": {"name": y, "values": ys} if y else None,
        "cells": grid, "run_ids": run_ids, "best": None, "neighbours": None,
    }
    if best is None:
        return result
    (row, col), (value, run_id) = best
    result["best"] = {"x": xs[col], "y": ys[row] if y else None, "value": _finite(value), "run_id": run_id}
    around = [cells[(row + dr, col + dc)][0] for dr in (-1, 0, 1) for dc in (-1, 0, 1)
              if (dr or dc) and (row + dr, col + dc) in cells]
    if around:
        mean = float(np.mean(around))
        result["neighbours"] = {
            "count": len(around), "mean": _finite(mean), "min": _finite(min(around)), "max": _finite(max(around)),
            "drop": _finite(value - mean), "relative_drop": _finite((value - mean) / abs(value)) if value else None,
        }
    return result
