"""compute_metrics against empyrical-reloaded (an independent implementation) and by hand."""

from __future__ import annotations

import datetime
import json
import math

import empyrical
import numpy as np
import pandas as pd
import pytest

from backtest.metrics import compute_metrics
from backtest.result import Trade

TOL = 1e-6


def equity_curve(n: int = 750, seed: int = 3) -> tuple[pd.Series, pd.Series]:
    """A strategy equity curve and its benchmark's returns that move partly together."""
    rng = np.random.default_rng(seed)
    bench = rng.normal(0.0004, 0.011, n)
    strategy = 0.0002 + 0.7 * bench + rng.normal(0.0, 0.008, n)
    index = pd.bdate_range("2018-01-02", periods=n + 1)
    equity = pd.Series(10_000.0 * np.cumprod(np.r_[1.0, 1.0 + strategy]), index=index)
    return equity, pd.Series(bench, index=index[1:])


@pytest.mark.parametrize("risk_free_rate", [0.0, 0.03])
def test_ratios_match_empyrical(risk_free_rate):
    equity, bench = equity_curve()
    returns = equity.pct_change().dropna()
    rf = (1 + risk_free_rate) ** (1 / 252) - 1

    metrics = compute_metrics(equity, [], benchmark_returns=bench, risk_free_rate=risk_free_rate)

    alpha, beta = empyrical.alpha_beta(returns, bench, risk_free=rf)
    expected = {
        "cagr": empyrical.cagr(returns),
        "annual_volatility": empyrical.annual_volatility(returns),
        "sharpe": empyrical.sharpe_ratio(returns, risk_free=rf),
        "sortino": empyrical.sortino_ratio(returns, required_return=rf),
        "max_dd": empyrical.max_drawdown(returns),
        "calmar": empyrical.calmar_ratio(returns),
        "alpha": alpha,
        "beta": beta,
    }
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, abs=TOL, rel=TOL), name
    assert metrics["total_return"] == pytest.approx(empyrical.cum_returns_final(returns), abs=1e-12)


def test_sharpe_is_mean_over_sample_std_times_sqrt_252_by_hand():
    equity = pd.Series([100.0, 101.0, 99.99, 102.0, 102.0], index=pd.bdate_range("2024-01-01", periods=5))
    r = np.array([0.01, 99.99 / 101 - 1, 102 / 99.99 - 1, 0.0])

    metrics = compute_metrics(equity)

    assert metrics["sharpe"] == pytest.approx(r.mean() / r.std(ddof=1) * math.sqrt(252), abs=1e-12)
    assert metrics["annual_volatility"] == pytest.approx(r.std(ddof=1) * math.sqrt(252), abs=1e-12)
    assert metrics["cagr"] == pytest.approx(1.02 ** (252 / 4) - 1, abs=1e-12)


def test_max_drawdown_and_its_duration_until_recovery():
    index = pd.bdate_range("2024-01-01", periods=6)  # Mon..Mon
    equity = pd.Series([100.0, 120.0, 90.0, 100.0, 125.0, 124.0], index=index)

    metrics = compute_metrics(equity)

    assert metrics["max_dd"] == pytest.approx(-0.25)
    assert (metrics["max_dd_peak"], metrics["max_dd_trough"], metrics["max_dd_recovery"]) == (
        "2024-01-02",
        "2024-01-03",
        "2024-01-05",
    )
    assert (metrics["max_dd_duration_bars"], metrics["max_dd_duration_days"]) == (3, 3)


def test_an_unrecovered_drawdown_lasts_to_the_last_bar():
    equity = pd.Series([100.0, 110.0, 99.0, 105.0, 111.0, 90.0, 95.0], index=pd.bdate_range("2024-01-01", periods=7))

    metrics = compute_metrics(equity)

    assert metrics["max_dd"] == pytest.approx(90.0 / 111.0 - 1)
    assert metrics["max_dd_recovery"] is None
    assert metrics["max_dd_duration_bars"] == 2  # from the peak (bar 4) to the last bar


def trade(pnl: float, return_pct: float, entry: str = "2024-01-02", exit_: str = "2024-01-04") -> Trade:
    return Trade(
        symbol="X",
        direction="long",
        entry_bar=0,
        exit_bar=2,
        entry_date=datetime.date.fromisoformat(entry),
        exit_date=datetime.date.fromisoformat(exit_),
        entry_price=100.0,
        exit_price=100.0,
        quantity=1,
        pnl=pnl,
        return_pct=return_pct,
        commission=0.0,
    )


def test_trade_statistics_by_hand():
    equity = pd.Series(np.linspace(100, 110, 10), index=pd.bdate_range("2024-01-01", periods=10))
    trades = [trade(100, 0.10), trade(-50, -0.05), trade(30, 0.03), trade(-20, -0.02), trade(0, 0.0)]

    metrics = compute_metrics(equity, trades)

    assert metrics["n_trades"] == 5
    assert metrics["win_rate"] == pytest.approx(2 / 5)
    assert metrics["profit_factor"] == pytest.approx(130 / 70)
    assert (metrics["gross_profit"], metrics["gross_loss"]) == (130.0, -70.0)
    assert metrics["expectancy"] == pytest.approx(60 / 5)
    assert metrics["avg_trade"] == pytest.approx(0.06 / 5)
    assert (metrics["best_trade"], metrics["worst_trade"]) == (0.10, -0.05)


def test_trades_may_be_dicts_or_a_frame():
    equity = pd.Series([100.0, 101.0, 102.0], index=pd.bdate_range("2024-01-01", periods=3))
    objects = [trade(10, 0.1), trade(-5, -0.05)]
    as_dicts = [t.to_dict() for t in objects]

    from_objects = compute_metrics(equity, objects)

    assert compute_metrics(equity, as_dicts) == from_objects
    assert compute_metrics(equity, pd.DataFrame(as_dicts)) == from_objects


def test_exposure_without_positions_given_comes_from_the_trades():
    index = pd.bdate_range("2024-01-01", periods=10)
    equity = pd.Series(100.0, index=index)
    trades = [trade(1, 0.01, "2024-01-02", "2024-01-04"), trade(1, 0.01, "2024-01-08", "2024-01-09")]

    assert compute_metrics(equity, trades)["exposure_time"] == pytest.approx(3 / 10)
    exposure = pd.Series([False] * 5 + [True] * 5, index=index)
    assert compute_metrics(equity, trades, exposure=exposure)["exposure_time"] == 0.5


def test_undefined_metrics_are_none_and_serialise_to_json():
    flat = pd.Series([100.0] * 5, index=pd.bdate_range("2024-01-01", periods=5))
    winners_only = [trade(10, 0.1)]

    metrics = compute_metrics(flat, winners_only, benchmark_returns=pd.Series(0.0, index=flat.index))

    for name in ("sharpe", "sortino", "calmar", "profit_factor", "alpha", "beta"):
        assert metrics[name] is None, name
    assert metrics["max_dd"] == 0.0 and metrics["max_dd_peak"] is None
    json.dumps(metrics, allow_nan=False)
    single = compute_metrics(flat.iloc[:1])
    assert single["cagr"] is None and single["annual_volatility"] is None and single["win_rate"] is None
    json.dumps(single, allow_nan=False)


def test_a_wiped_out_account_has_cagr_minus_one():
    equity = pd.Series([100.0, 50.0, 0.0], index=pd.bdate_range("2024-01-01", periods=3))
    assert compute_metrics(equity)["cagr"] == -1.0
