"""PNG chart of a backtest: the equity curve over its drawdown.

Uses matplotlib's object API with the Agg canvas directly, so it neither
needs a display nor switches the process-wide pyplot backend.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from backtest.result import BacktestResult


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def plot_equity(result: BacktestResult, path: str | os.PathLike[str]) -> Path:
    """Write the equity curve (top) and the drawdown (bottom) of ``result`` to ``path`` (PNG)."""
    path = Path(path)
    figure = Figure(figsize=(11, 6.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    equity_axes, drawdown_axes = figure.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    dates = result.equity.index
    equity_axes.plot(dates, result.equity.to_numpy(), color="#1f6feb", linewidth=1.2, label="equity")
    equity_axes.axhline(result.initial_capital, color="#888888", linewidth=0.8, linestyle="--", label="initial capital")
    equity_axes.set_ylabel("equity")
    equity_axes.legend(loc="upper left", frameon=False)
    equity_axes.grid(alpha=0.3)
    metrics = result.metrics
    sharpe = metrics.get("sharpe")
    equity_axes.set_title(
        f"{result.strategy_id} {', '.join(result.symbols[:5])}{' ...' if len(result.symbols) > 5 else ''}  |  "
        f"return {_percent(metrics.get('total_return'))}  max drawdown {_percent(metrics.get('max_dd'))}  "
        f"Sharpe {'n/a' if sharpe is None else f'{sharpe:.2f}'}  trades {metrics.get('n_trades', 0)}",
        loc="left",
        fontsize=10,
    )
    drawdown = result.drawdown.to_numpy() * 100.0
    drawdown_axes.fill_between(dates, drawdown, 0.0, color="#d73a49", alpha=0.35, linewidth=0)
    drawdown_axes.plot(dates, drawdown, color="#d73a49", linewidth=0.8)
    drawdown_axes.set_ylabel("drawdown %")
    drawdown_axes.grid(alpha=0.3)
    figure.savefig(path, format="png")
    return path
