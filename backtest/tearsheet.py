"""A run's tearsheet: the numbers and PNG plots of one page a trader can keep.

``tearsheet_context`` turns a run's stored result (``BacktestResult.to_dict()`` shape) and its
robustness report into what ``templates/backtest/tearsheet.html`` shows: the equity against SPY,
the drawdown, monthly returns, a rolling Sharpe, the distribution of trade returns, the Monte Carlo
fan and distribution, the regimes and, for a run of a sweep, the sensitivity heatmap. The plots are
PNGs (matplotlib's Agg canvas, no display, no global pyplot state), embedded in the page as data URIs
so the one HTML file holds everything, and also handed out as files.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

ROLLING_SHARPE_SESSIONS = 126
"""Six months of sessions: the window of the rolling Sharpe."""
METRICS = (("total_return", "Total return", "pct"), ("cagr", "CAGR", "pct"), ("annual_volatility", "Volatility", "pct"),
           ("sharpe", "Sharpe", "num"), ("sortino", "Sortino", "num"), ("calmar", "Calmar", "num"),
           ("max_dd", "Max drawdown", "pct"), ("max_dd_duration_days", "Drawdown duration (days)", "int"),
           ("n_trades", "Closed trades", "int"), ("win_rate", "Win rate", "pct"), ("profit_factor", "Profit factor", "num"),
           ("expectancy", "Expectancy", "money"), ("exposure_time", "Exposure", "pct"), ("alpha", "Alpha", "pct"),
           ("beta", "Beta", "num"), ("final_equity", "Final equity", "money"),
           ("risk_free_rate", "Risk-free rate", "pct"))
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
BLUE, GREY, RED, GREEN, ORANGE = "#1f6feb", "#8b98a5", "#d73a49", "#26a69a", "#ff9800"


def _equity(curve: list[Mapping[str, Any]], key: str = "equity") -> pd.Series:
    return pd.Series([p[key] for p in curve], index=pd.DatetimeIndex([p["date"] for p in curve]), dtype=float)


def monthly_returns(curve: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per year: each month's return (month-end equity over the previous month-end, the first month over the
    first bar) and the year's, compounded; None for months outside the run."""
    equity = _equity(curve)
    month_end = equity.groupby([equity.index.year, equity.index.month]).last()
    previous = month_end.shift(1)
    previous.iloc[0] = equity.iloc[0]
    returns = month_end / previous - 1.0
    rows = []
    for year in sorted({y for y, _ in returns.index}):
        months = [None if (year, m) not in returns.index else float(returns[(year, m)]) for m in range(1, 13)]
        known = [r for r in months if r is not None]
        rows.append({"year": year, "months": months, "year_return": float(np.prod([1 + r for r in known]) - 1)})
    return rows


def rolling_sharpe(curve: list[Mapping[str, Any]], risk_free_rate: float = 0.0,
                   window: int = ROLLING_SHARPE_SESSIONS) -> pd.Series:
    """Annualised Sharpe of the last ``window`` daily returns at each session (NaN before ``window`` returns)."""
    returns = _equity(curve).pct_change()
    excess = returns - ((1.0 + risk_free_rate) ** (1.0 / 252) - 1.0)
    rolling = excess.rolling(window)
    return (rolling.mean() / rolling.std(ddof=1) * math.sqrt(252)).replace([np.inf, -np.inf], np.nan)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _figure(height: float = 3.2) -> Figure:
    figure = Figure(figsize=(10, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _equity_png(run: Mapping[str, Any]) -> bytes:
    figure = _figure(4.0)
    axes = figure.subplots()
    curve = run["equity_curve"]
    axes.plot(_equity(curve).index, _equity(curve).to_numpy(), color=BLUE, linewidth=1.3, label="strategy")
    if any(p.get("benchmark") is not None for p in curve):
        axes.plot(_equity(curve, "benchmark").index, _equity(curve, "benchmark").to_numpy(), color=GREY,
                  linewidth=1.0, label="SPY, same capital")
    axes.set_ylabel("equity ($)")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", frameon=False)
    axes.set_title("Equity against SPY bought with the same capital", loc="left", fontsize=10)
    return _png(figure)


def _drawdown_png(run: Mapping[str, Any]) -> bytes:
    figure = _figure(2.4)
    axes = figure.subplots()
    drawdown = _equity(run["equity_curve"], "drawdown") * 100.0
    axes.fill_between(drawdown.index, drawdown.to_numpy(), 0.0, color=RED, alpha=0.35, linewidth=0)
    axes.plot(drawdown.index, drawdown.to_numpy(), color=RED, linewidth=0.8)
    axes.set_ylabel("drawdown (%)")
    axes.grid(alpha=0.3)
    axes.set_title("Drawdown from the running peak", loc="left", fontsize=10)
    return _png(figure)


def _rolling_sharpe_png(sharpe: pd.Series) -> bytes:
    figure = _figure(2.6)
    axes = figure.subplots()
    axes.plot(sharpe.index, sharpe.to_numpy(), color=BLUE, linewidth=1.0)
    axes.axhline(0.0, color=GREY, linewidth=0.8)
    axes.set_ylabel("Sharpe")
    axes.grid(alpha=0.3)
    axes.set_title(f"Rolling Sharpe, {ROLLING_SHARPE_SESSIONS} sessions", loc="left", fontsize=10)
    return _png(figure)


def _trades_png(trades: list[Mapping[str, Any]]) -> bytes:
    figure = _figure(2.8)
    axes = figure.subplots()
    returns = np.array([t["return_pct"] for t in trades], dtype=float) * 100.0
    # Bins of one width with an edge at 0, so no bin holds both winners and losers.
    width = max(float(np.ptp(returns)), 1e-9) / min(40, max(5, len(returns) // 3))
    bins = np.arange(math.floor(returns.min() / width), math.floor(returns.max() / width) + 2) * width
    axes.hist(returns[returns > 0], bins=bins, color=GREEN, alpha=0.8, label="winners")
    axes.hist(returns[returns <= 0], bins=bins, color=RED, alpha=0.8, label="losers")
    axes.axvline(float(returns.mean()), color=BLUE, linewidth=1.0, label=f"mean {returns.mean():+.2f}%")
    axes.set_xlabel("trade return (% of the trade's entry value)")
    axes.set_ylabel("trades")
    axes.legend(frameon=False)
    axes.set_title("Distribution of closed trades", loc="left", fontsize=10)
    return _png(figure)


def _monte_carlo_png(monte: Mapping[str, Any]) -> bytes:
    figure = _figure(3.4)
    fan_axes, histogram_axes = figure.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    fan = monte["bootstrap"]["fan"]
    trade = fan["trade"]
    fan_axes.fill_between(trade, fan["p5"], fan["p95"], color=BLUE, alpha=0.15, linewidth=0, label="5-95%")
    fan_axes.fill_between(trade, fan["p25"], fan["p75"], color=BLUE, alpha=0.3, linewidth=0, label="25-75%")
    fan_axes.plot(trade, fan["p50"], color=BLUE, linewidth=1.2, label="median")
    fan_axes.set_xlabel("trade")
    fan_axes.set_ylabel("equity ($)")
    fan_axes.grid(alpha=0.3)
    fan_axes.legend(loc="upper left", frameon=False)
    fan_axes.set_title(f"Monte Carlo: {monte['paths']} resampled paths (seed {monte['seed']})", loc="left", fontsize=10)
    histogram = monte["bootstrap"]["histogram"]["max_drawdown"]
    edges = np.array(histogram["edges"], dtype=float) * 100.0
    histogram_axes.bar(edges[:-1], histogram["counts"], width=np.diff(edges), align="edge", color=RED, alpha=0.7)
    histogram_axes.axvline(-monte["ruin_drawdown"] * 100.0, color=ORANGE, linewidth=1.2,
                           label=f"ruin at -{monte['ruin_drawdown']:.0%}")
    histogram_axes.set_xlabel("max drawdown (%)")
    histogram_axes.set_ylabel("paths")
    histogram_axes.legend(frameon=False)
    histogram_axes.set_title("Max drawdown of the paths", loc="left", fontsize=10)
    return _png(figure)


def _regimes_png(regimes: Mapping[str, Any]) -> bytes:
    figure = _figure(2.8)
    axes = figure.subplots()
    rows = regimes["regimes"]
    x = np.arange(len(rows))
    strategy = [100.0 * (r["annual_return"] or 0.0) for r in rows]
    spy = [100.0 * (((1 + r["spy_total_return"]) ** (252 / r["days"]) - 1) if r["days"] and r["spy_total_return"] is not None
                    and r["spy_total_return"] > -1 else 0.0) for r in rows]
    axes.bar(x - 0.2, strategy, width=0.4, color=BLUE, label="strategy")
    axes.bar(x + 0.2, spy, width=0.4, color=GREY, label="SPY")
    axes.set_xticks(x, [r["label"].split(" (")[0] for r in rows], fontsize=8)
    axes.axhline(0.0, color=GREY, linewidth=0.8)
    axes.set_ylabel("annualised return (%)")
    axes.legend(frameon=False)
    axes.set_title("Return by market regime (days in each regime, annualised)", loc="left", fontsize=10)
    return _png(figure)


def _heatmap_png(sensitivity: Mapping[str, Any]) -> bytes:
    figure = _figure(3.4)
    axes = figure.subplots()
    cells = np.array([[np.nan if v is None else v for v in row] for row in sensitivity["cells"]], dtype=float)
    image = axes.imshow(cells, cmap="RdYlGn", aspect="auto", origin="lower")
    figure.colorbar(image, ax=axes, label=sensitivity["objective"])
    xs = sensitivity["x"]["values"]
    axes.set_xticks(range(len(xs)), [str(v) for v in xs])
    axes.set_xlabel(sensitivity["x"]["name"])
    if sensitivity["y"]:
        ys = sensitivity["y"]["values"]
        axes.set_yticks(range(len(ys)), [str(v) for v in ys])
        axes.set_ylabel(sensitivity["y"]["name"])
    else:
        axes.set_yticks([])
    for (row, col), value in np.ndenumerate(cells):
        if not np.isnan(value):
            axes.text(col, row, f"{value:.2f}", ha="center", va="center", fontsize=8)
    axes.set_title(f"Sensitivity: {sensitivity['objective']} over the sweep", loc="left", fontsize=10)
    return _png(figure)


def tearsheet_images(run: Mapping[str, Any], robustness: Mapping[str, Any] | None,
                     sensitivity: Mapping[str, Any] | None) -> dict[str, bytes]:
    """File name -> PNG of every plot the run has data for."""
    images = {"equity.png": _equity_png(run), "drawdown.png": _drawdown_png(run)}
    sharpe = rolling_sharpe(run["equity_curve"], float(run.get("risk_free_rate") or 0.0))
    if sharpe.notna().any():
        images["rolling_sharpe.png"] = _rolling_sharpe_png(sharpe)
    if run.get("trades"):
        images["trades.png"] = _trades_png(run["trades"])
    if robustness and robustness.get("monte_carlo"):
        images["monte_carlo.png"] = _monte_carlo_png(robustness["monte_carlo"])
    if robustness and robustness.get("regimes"):
        images["regimes.png"] = _regimes_png(robustness["regimes"])
    if sensitivity and sensitivity.get("best"):
        images["sensitivity.png"] = _heatmap_png(sensitivity)
    return images


def tearsheet_context(run: Mapping[str, Any], robustness: Mapping[str, Any] | None,
                      sensitivity: Mapping[str, Any] | None, images: Mapping[str, bytes]) -> dict[str, Any]:
    """What the tearsheet template shows (its plots as data URIs)."""
    trades = run.get("trades") or []
    returns = np.array([t["return_pct"] for t in trades], dtype=float)
    sharpe = rolling_sharpe(run["equity_curve"], float(run.get("risk_free_rate") or 0.0)).dropna()
    metrics = run.get("metrics") or {}
    return {
        "run": run,
        "metrics": [(label, metrics.get(key), kind) for key, label, kind in METRICS],
        "months": MONTHS,
        "monthly": monthly_returns(run["equity_curve"]),
        "images": {name.removesuffix(".png"): "data:image/png;base64," + base64.b64encode(png).decode("ascii")
                   for name, png in images.items()},
        "trade_stats": None if not trades else {
            "count": len(trades), "winners": int((returns > 0).sum()), "losers": int((returns <= 0).sum()),
            "mean": float(returns.mean()), "median": float(np.median(returns)), "best": float(returns.max()),
            "worst": float(returns.min()), "avg_bars": float(np.mean([t["bars_held"] for t in trades])),
        },
        "rolling_sharpe": None if sharpe.empty else {"last": float(sharpe.iloc[-1]), "min": float(sharpe.min()),
                                                     "max": float(sharpe.max())},
        "robustness": robustness,
        "sensitivity": sensitivity,
    }
