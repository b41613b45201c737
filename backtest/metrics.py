"""Performance metrics: a pure function of the equity curve and the closed trades.

Conventions (tests/backtest/test_metrics.py checks them against
empyrical-reloaded to 1e-6 on the same equity curve):

- Returns are the simple bar-to-bar returns of the equity curve,
  ``r_t = E_t / E_{t-1} - 1`` (the first bar has none). ``N`` = number of
  returns, ``P`` = ``periods_per_year`` (252). The annual risk-free rate is
  turned into a per-bar rate ``rf = (1 + risk_free_rate) ** (1 / P) - 1``; the result's
  ``risk_free_rate`` says which annual rate was used (backtests default to 0, as backtrader,
  vectorbt and empyrical do).
- ``total_return`` = ``E_last / E_first - 1``.
- ``cagr`` = ``(E_last / E_first) ** (P / N) - 1`` (years counted in bars,
  as empyrical does, not calendar days); -1 when the equity ends at 0, None
  when it ends below 0.
- ``annual_volatility`` = sample standard deviation (ddof=1) of ``r`` x sqrt(P).
- ``sharpe`` = mean(r - rf) / std(r - rf, ddof=1) x sqrt(P).
- ``sortino`` = mean(r - rf) x P / (downside deviation x sqrt(P)), the
  downside deviation being sqrt(mean(min(r - rf, 0) ** 2)) over all N
  returns (empyrical's convention, not the deviation of the losing days).
- ``max_dd`` = min over t of ``E_t / max(E_0..E_t) - 1``, a fraction <= 0.
  ``max_dd_duration_bars`` / ``_days`` run from the peak before the deepest
  trough to the first bar back at that peak, or to the last bar when it has
  not recovered (``max_dd_recovery`` is then None).
- ``calmar`` = ``cagr / |max_dd|``.
- ``beta`` = cov(r - rf, b - rf) / var(b - rf) and ``alpha`` =
  (1 + mean((r - rf) - beta x (b - rf))) ** P - 1 (annualized, empyrical's
  convention), ``b`` being the benchmark's returns on the same dates (dates
  missing from either series are dropped).
- Trade statistics count closed trades only, with P&L net of commissions:
  ``win_rate`` = share of trades with pnl > 0; ``profit_factor`` = gross
  profit / |gross loss|; ``expectancy`` = mean pnl per trade (cash);
  ``avg_trade`` / ``best_trade`` / ``worst_trade`` = mean / max / min of the
  trades' ``return_pct`` (pnl over entry notional, a fraction).
- ``exposure_time`` = fraction of bars that end with a position.

Every metric that is undefined (too few bars, no trades, zero volatility, no
losing trade for the profit factor, ...) is None, never NaN or infinity, so the
dict serialises to JSON as is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _trade_columns(trades: Iterable[Any] | pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """pnl, return_pct and (entry, exit) dates of trades given as objects, dicts or a frame."""
    if isinstance(trades, pd.DataFrame):
        spans = list(zip(trades["entry_date"], trades["exit_date"], strict=True)) if "entry_date" in trades else []
        return trades["pnl"].to_numpy(float), trades["return_pct"].to_numpy(float), spans
    trades = list(trades)
    if trades and isinstance(trades[0], Mapping):
        pnl = [trade["pnl"] for trade in trades]
        ret = [trade["return_pct"] for trade in trades]
        spans = [(trade["entry_date"], trade["exit_date"]) for trade in trades]
    else:
        pnl = [trade.pnl for trade in trades]
        ret = [trade.return_pct for trade in trades]
        spans = [(trade.entry_date, trade.exit_date) for trade in trades]
    return np.asarray(pnl, dtype=float), np.asarray(ret, dtype=float), spans


def _exposure_from_trades(index: pd.DatetimeIndex, spans: list[Any]) -> np.ndarray:
    """Bars from each trade's entry bar up to (not including) its exit bar."""
    held = np.zeros(len(index) + 1, dtype=np.int64)
    for entry, exit_ in spans:
        start = index.searchsorted(pd.Timestamp(entry))
        stop = index.searchsorted(pd.Timestamp(exit_))
        held[start] += 1
        held[stop] -= 1
    return np.cumsum(held[:-1]) > 0


def _drawdown_stats(equity: pd.Series) -> dict[str, Any]:
    values = equity.to_numpy(dtype=float)
    peaks = np.maximum.accumulate(values)
    drawdown = values / peaks - 1.0
    trough = int(np.argmin(drawdown))
    max_dd = float(drawdown[trough])
    if max_dd >= 0.0:
        return {
            "max_dd": 0.0,
            "max_dd_duration_bars": 0,
            "max_dd_duration_days": 0,
            "max_dd_peak": None,
            "max_dd_trough": None,
            "max_dd_recovery": None,
        }
    peak = int(np.flatnonzero(values[: trough + 1] == peaks[trough])[-1])
    back = np.flatnonzero(values[trough:] >= peaks[trough])
    recovery = trough + int(back[0]) if len(back) else None
    end = recovery if recovery is not None else len(values) - 1
    dates = equity.index
    return {
        "max_dd": max_dd,
        "max_dd_duration_bars": end - peak,
        "max_dd_duration_days": int((dates[end] - dates[peak]).days),
        "max_dd_peak": dates[peak].date().isoformat(),
        "max_dd_trough": dates[trough].date().isoformat(),
        "max_dd_recovery": None if recovery is None else dates[recovery].date().isoformat(),
    }


def _alpha_beta(
    returns: pd.Series, benchmark_returns: pd.Series, rf: float, periods: int
) -> tuple[float | None, float | None]:
    joined = pd.concat([returns, benchmark_returns], axis=1, join="inner").dropna()
    if len(joined) < 2:
        return None, None
    strategy = joined.iloc[:, 0].to_numpy(float) - rf
    bench = joined.iloc[:, 1].to_numpy(float) - rf
    bench_residual = bench - bench.mean()
    variance = float(np.mean(bench_residual**2))
    if variance < 1e-30:
        return None, None
    beta = float(np.mean(bench_residual * strategy)) / variance
    alpha = (1.0 + float(np.mean(strategy - beta * bench))) ** periods - 1.0
    return _finite(alpha), _finite(beta)


def compute_metrics(
    equity: pd.Series,
    trades: Iterable[Any] | pd.DataFrame = (),
    benchmark_returns: pd.Series | None = None,
    risk_free_rate: float = 0.0,
    periods_per_year: int = 252,
    exposure: pd.Series | None = None,
) -> dict[str, Any]:
    """The metrics of the module docstring for one equity curve and its closed trades.

    ``equity`` is indexed by date, one value per bar. ``trades`` are closed
    trades (``Trade`` objects, their ``to_dict()`` dicts, or a DataFrame with
    at least ``pnl`` and ``return_pct``). ``exposure`` marks the bars that end
    with a position; without it, it is derived from the trades' entry and
    exit dates (closed trades only).
    """
    equity = equity.astype(float)
    values = equity.to_numpy()
    n_bars = len(values)
    if n_bars == 0:
        raise ValueError("equity curve is empty")
    returns = equity.pct_change().iloc[1:]
    r = returns.to_numpy()
    n = len(r)
    rf = (1.0 + risk_free_rate) ** (1.0 / periods_per_year) - 1.0
    excess = r - rf
    growth = values[-1] / values[0]

    cagr: float | None = None
    if n:
        cagr = -1.0 if growth == 0 else (_finite(growth ** (periods_per_year / n) - 1.0) if growth > 0 else None)
    annual_volatility = sharpe = sortino = None
    if n >= 2:
        std = float(np.std(excess, ddof=1))
        annual_volatility = float(np.std(r, ddof=1)) * math.sqrt(periods_per_year)
        if np.ptp(excess) > 0 and std > 0:
            sharpe = float(np.mean(excess)) / std * math.sqrt(periods_per_year)
        downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2))) * math.sqrt(periods_per_year)
        if downside > 0:
            sortino = float(np.mean(excess)) * periods_per_year / downside
    drawdown = _drawdown_stats(equity)
    calmar = None
    if cagr is not None and drawdown["max_dd"] < 0:
        calmar = _finite(cagr / abs(drawdown["max_dd"]))
    alpha = beta = None
    if benchmark_returns is not None and n:
        alpha, beta = _alpha_beta(returns, benchmark_returns.astype(float), rf, periods_per_year)

    pnl, ret, spans = _trade_columns(trades)
    n_trades = len(pnl)
    gross_profit = float(pnl[pnl > 0].sum())
    gross_loss = float(pnl[pnl < 0].sum())
    if exposure is not None:
        exposed = exposure.reindex(equity.index, fill_value=False).to_numpy(dtype=bool)
    else:
        exposed = _exposure_from_trades(equity.index, spans)

    return {
        "n_bars": n_bars,
        "final_equity": float(values[-1]),
        "total_return": float(growth - 1.0),
        "cagr": cagr,
        "annual_volatility": annual_volatility,
        "sharpe": sharpe,
        "sortino": sortino,
        "calmar": calmar,
        **drawdown,
        "n_trades": n_trades,
        "win_rate": float(np.mean(pnl > 0)) if n_trades else None,
        "profit_factor": gross_profit / abs(gross_loss) if gross_loss < 0 else None,
        "gross_profit": gross_profit,
        "gross_loss": gross_loss,
        "expectancy": float(pnl.mean()) if n_trades else None,
        "avg_trade": float(ret.mean()) if n_trades else None,
        "best_trade": float(ret.max()) if n_trades else None,
        "worst_trade": float(ret.min()) if n_trades else None,
        "exposure_time": float(exposed.mean()),
        "alpha": alpha,
        "beta": beta,
        "risk_free_rate": float(risk_free_rate),
    }
