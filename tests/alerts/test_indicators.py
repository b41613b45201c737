"""The live RSI / MACD step equals recomputing on the closes plus the live price (factors and TA-Lib)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import talib

from alerts.indicators import MACD_MIN_BARS, RSI_MIN_BARS, indicator_states
from factors.base import get_factor


def random_closes(n: int, seed: int, symbols=("AAA", "BBB", "CCC")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    walk = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n, len(symbols))), axis=0))
    return pd.DataFrame(walk, index=pd.bdate_range("2025-01-02", periods=n), columns=list(symbols))


def appended(closes: pd.DataFrame, live: np.ndarray) -> pd.DataFrame:
    row = pd.DataFrame([live], columns=closes.columns, index=[closes.index[-1] + pd.offsets.BDay()])
    return pd.concat([closes, row])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_stepped_rsi_equals_talib_and_the_factor_on_closes_plus_the_live_price(seed):
    closes = random_closes(250, seed)
    live = closes.iloc[-1].to_numpy() * np.array([1.031, 0.972, 1.0])
    rsi_now, _ = indicator_states(closes).step(live)
    full = appended(closes, live)
    factor = get_factor("rsi_14").compute({"close": full})
    for i, symbol in enumerate(closes.columns):
        expected = talib.RSI(full[symbol].to_numpy(), timeperiod=14)[-1]
        assert rsi_now[i] == pytest.approx(expected, abs=1e-9)
        assert rsi_now[i] == pytest.approx(factor[symbol].iloc[-1], abs=1e-9)


@pytest.mark.parametrize("seed", [4, 5])
def test_stepped_macd_minus_signal_equals_talib(seed):
    closes = random_closes(250, seed)
    live = closes.iloc[-1].to_numpy() * np.array([0.95, 1.05, 1.001])
    states = indicator_states(closes)
    _, diff_now = states.step(live)
    full = appended(closes, live)
    for i, symbol in enumerate(closes.columns):
        line, signal, _ = talib.MACD(full[symbol].to_numpy(), 12, 26, 9)
        assert diff_now[i] == pytest.approx(line[-1] - signal[-1], abs=1e-9)
        previous_line, previous_signal, _ = talib.MACD(closes[symbol].to_numpy(), 12, 26, 9)
        assert states.macd_diff[i] == pytest.approx(previous_line[-1] - previous_signal[-1], abs=1e-9)


def test_the_state_of_each_symbol_is_taken_at_its_own_last_bar():
    closes = random_closes(120, 9)
    closes.iloc[-3:, 1] = np.nan  # BBB stopped trading three sessions ago
    states = indicator_states(closes)
    assert states.last_close[1] == closes.iloc[-4, 1]
    expected = talib.RSI(closes["BBB"].dropna().to_numpy(), timeperiod=14)[-1]
    assert states.rsi[1] == pytest.approx(expected, abs=1e-9)


def test_too_short_a_history_leaves_the_indicators_unknown():
    closes = random_closes(RSI_MIN_BARS - 1, 11)
    states = indicator_states(closes)
    assert np.isnan(states.rsi).all() and np.isnan(states.macd_diff).all()
    rsi_now, diff_now = states.step(closes.iloc[-1].to_numpy())
    assert np.isnan(rsi_now).all() and np.isnan(diff_now).all()
    enough_for_rsi = indicator_states(random_closes(RSI_MIN_BARS, 11))
    assert not np.isnan(enough_for_rsi.rsi).any() and np.isnan(enough_for_rsi.macd_diff).all()
    assert not np.isnan(indicator_states(random_closes(MACD_MIN_BARS, 11)).macd_diff).any()
