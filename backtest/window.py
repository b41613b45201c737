"""A backtest over a window of sessions, with the bars before it as the strategy's history.

A walk-forward window and a live-versus-backtest replay both need a strategy that starts trading
flat on a given session while its indicators are already computed over the bars before it (a
50-bar average is ready on the window's first day). ``window_backtest`` runs the engine over
history + window with the strategy's ``start_bar`` on the window's first session:

- ``on_bar`` is never called before ``start_bar``, so no order is placed on a history bar and the
  first fill is at the open after the window's first session, as in a run that starts there;
- the panel it is given ends at the window's last session, so nothing after the window is visible,
  not even in ``init`` (the caller slices; ``panel_slice`` does it);
- the equity, exposure and metrics are those of the window alone: the equity starts at the capital
  on the window's first session (the strategy was flat on every history bar).

Pure: pandas in, engine records out; no Django.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from backtest.engine import Backtest, CommissionModel, Data
from backtest.metrics import compute_metrics
from backtest.result import Fill, OpenTrade, Trade
from backtest.strategies.base import Strategy


@dataclass(frozen=True)
class WindowResult:
    """The window's part of a run: equity from its first session on, its trades, fills and metrics."""

    equity: pd.Series
    exposure: pd.Series
    trades: list[Trade]
    open_trades: list[OpenTrade]
    fills: list[Fill]
    metrics: dict[str, Any]


def panel_slice(panel: Mapping[str, pd.DataFrame], start: date | None, end: date) -> dict[str, pd.DataFrame]:
    """The panel's bars from ``start`` (None: the first) to ``end``, inclusive."""
    lo = None if start is None else pd.Timestamp(start)
    return {name: frame.loc[lo : pd.Timestamp(end)] for name, frame in panel.items()}


@functools.cache
def _from_start_bar(strategy_cls: type[Strategy]) -> type[Strategy]:
    """``strategy_cls`` whose ``on_bar`` does nothing before ``start_bar`` (the bars there are history)."""

    def on_bar(self: Strategy, data: Data) -> None:
        if data.t >= self.start_bar:
            strategy_cls.on_bar(self, data)

    return type(f"{strategy_cls.__name__}FromStartBar", (strategy_cls,),
                {"on_bar": on_bar, "__module__": __name__, "__doc__": strategy_cls.__doc__})


def window_backtest(
    panel: Mapping[str, pd.DataFrame],
    strategy_cls: type[Strategy],
    params: Mapping[str, Any],
    *,
    first: date,
    initial_capital: float,
    commission: CommissionModel | float = 0.0,
    slippage_bps: float = 0.0,
    spread: float = 0.0,
    max_volume_fraction: float | None = None,
    risk_free_rate: float = 0.0,
    benchmark_returns: pd.Series | None = None,
) -> WindowResult:
    """Trade ``strategy_cls(params)`` from session ``first`` to the panel's last bar, the earlier bars as history.

    Raises ``ValueError`` when the panel has no bar on or after ``first``.
    """
    index = panel["close"].index
    start_bar = int(index.searchsorted(pd.Timestamp(first)))
    if start_bar >= len(index):
        raise ValueError(f"no bars from {first} to {index[-1].date() if len(index) else first}")
    strategy = _from_start_bar(strategy_cls)(dict(params))
    strategy.start_bar = start_bar
    result = Backtest(
        panel, strategy, initial_capital=initial_capital, commission=commission, slippage_bps=slippage_bps,
        spread=spread, max_volume_fraction=max_volume_fraction, benchmark_returns=benchmark_returns,
        risk_free_rate=risk_free_rate,
    ).run()
    equity = result.equity.iloc[start_bar:]
    exposure = result.exposure.iloc[start_bar:]
    metrics = compute_metrics(equity, result.trades, benchmark_returns=benchmark_returns,
                              risk_free_rate=risk_free_rate, exposure=exposure)
    return WindowResult(equity=equity, exposure=exposure, trades=result.trades, open_trades=result.open_trades,
                        fills=result.fills, metrics=metrics)
