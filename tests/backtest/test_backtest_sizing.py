"""Sizing helpers: what they resolve to, and how the engine turns that into shares."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtest.engine import Backtest, OrderStatus
from backtest.sizing import AllIn, FixedShares, FractionOfEquity, SizeSpec, VolatilityTarget, realized_volatility


def test_sizers_resolve_to_shares_or_a_fraction_of_equity():
    closes = np.array([10.0, 11.0])
    assert AllIn().resolve(closes) == SizeSpec("equity", 1.0)
    assert FractionOfEquity(0.3).resolve(closes) == SizeSpec("equity", 0.3)
    assert FixedShares(25).resolve(closes) == SizeSpec("shares", 25.0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: FractionOfEquity(0.0),
        lambda: FractionOfEquity(1.5),
        lambda: FixedShares(0),
        lambda: FixedShares(2.5),
        lambda: VolatilityTarget(0.0),
        lambda: VolatilityTarget(0.1, lookback=1),
        lambda: VolatilityTarget(0.1, max_fraction=2.0),
    ],
)
def test_bad_sizer_arguments_are_refused(make):
    with pytest.raises(ValueError):
        make()


def test_realized_volatility_is_the_annualized_sample_std_of_the_last_returns():
    rng = np.random.default_rng(0)
    closes = 100 * np.cumprod(1 + rng.normal(0, 0.01, 60))
    closes[30] = np.nan  # a missing bar is skipped

    vol = realized_volatility(closes, lookback=20)

    expected = pd.Series(closes).dropna().pct_change().iloc[-20:].std(ddof=1) * math.sqrt(252)
    assert vol == pytest.approx(expected, rel=1e-12)
    assert math.isnan(realized_volatility(closes[:20], lookback=20))


def test_volatility_target_scales_the_fraction_and_caps_it():
    rng = np.random.default_rng(1)
    closes = 100 * np.cumprod(1 + rng.normal(0, 0.02, 40))
    vol = realized_volatility(closes)

    assert VolatilityTarget(0.10).resolve(closes) == SizeSpec("equity", pytest.approx(0.10 / vol))
    assert VolatilityTarget(5.0).resolve(closes) == SizeSpec("equity", 1.0)
    assert VolatilityTarget(0.10).resolve(np.full(40, 100.0)) == SizeSpec("equity", 1.0)
    assert VolatilityTarget(0.10).resolve(closes[:5]) == SizeSpec("equity", 0.0)


def test_the_engine_sizes_a_volatility_target_order_from_the_closes_up_to_the_decision_bar(panel_of, scripted):
    rng = np.random.default_rng(2)
    closes = (100 * np.cumprod(1 + rng.normal(0, 0.02, 30))).tolist()
    panel = panel_of([(c, c * 1.01, c * 0.99, c) for c in closes])
    fraction = 0.15 / realized_volatility(np.array(closes[:26]))
    strategy = scripted({25: lambda s, d: s.buy(0, size=VolatilityTarget(0.15))})

    result = Backtest(panel, strategy).run()

    (fill,) = result.fills
    assert fill.quantity == int(fraction * 10_000.0 // closes[26])


def test_a_sizer_without_enough_history_gives_a_rejected_order(panel_of, scripted):
    panel = panel_of([(10.0, 10.5, 9.5, 10.0)] * 5)
    strategy = scripted({1: lambda s, d: s.buy(0, size=VolatilityTarget(0.15))})

    result = Backtest(panel, strategy).run()

    (order,) = result.orders
    assert (order.status, order.reason) == (OrderStatus.REJECTED, "the sizer gave no size")
