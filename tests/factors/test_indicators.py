"""Every factor against an independent computation.

TA-Lib is the reference for every technical output (to 1e-9); they are also
checked against slow, explicit per-bar loops written from the definitions.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import talib

from factors.base import all_factors, factor_for_output, get_factor
from factors.panel import Panel, make_panel
from marketdata.synthetic import DEMO_UNIVERSE, generate_universe

TOLERANCE = 1e-9
SYMBOLS = ["SPY", "AAPL", "TSLA", "KO", "INTC"]


@pytest.fixture(scope="module")
def panel() -> Panel:
    return make_panel(generate_universe(DEMO_UNIVERSE, dt.date(2016, 1, 4), n_sessions=700, seed=7))


def series(panel: Panel, field: str, symbol: str) -> np.ndarray:
    return panel[field][symbol].to_numpy()


def output(panel: Panel, name: str, symbol: str) -> np.ndarray:
    return get_factor(name).compute_outputs(panel)[name][symbol].to_numpy()


def assert_matches(actual: np.ndarray, expected: np.ndarray, tolerance: float = TOLERANCE) -> None:
    """Same NaN pattern and the defined values within ``tolerance``."""
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    defined = ~np.isnan(expected)
    assert defined.any()
    np.testing.assert_allclose(actual[defined], expected[defined], rtol=0, atol=tolerance)


# --- TA-Lib references -------------------------------------------------------


@pytest.mark.parametrize("symbol", SYMBOLS)
@pytest.mark.parametrize("period", [20, 60, 120])
def test_roc_is_talib_roc_as_a_fraction(panel: Panel, symbol: str, period: int) -> None:
    close = series(panel, "close", symbol)
    assert_matches(output(panel, f"roc_{period}", symbol), talib.ROC(close, period) / 100.0)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_rsi_matches_talib_from_index_14(panel: Panel, symbol: str) -> None:
    close = series(panel, "close", symbol)
    expected = talib.RSI(close, 14)
    assert np.isnan(expected[:14]).all() and not np.isnan(expected[14:]).any()
    assert_matches(output(panel, "rsi_14", symbol), expected)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_macd_line_signal_and_histogram_match_talib(panel: Panel, symbol: str) -> None:
    close = series(panel, "close", symbol)
    outputs = get_factor("macd").compute_outputs(panel)
    for name, expected in zip(
        ("macd", "macd_signal", "macd_hist"), talib.MACD(close, 12, 26, 9), strict=True
    ):
        assert_matches(outputs[name][symbol].to_numpy(), expected)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_bollinger_percent_b_matches_talib_bbands(panel: Panel, symbol: str) -> None:
    close = series(panel, "close", symbol)
    upper, _, lower = talib.BBANDS(close, 20, 2.0, 2.0, 0)
    assert_matches(output(panel, "bb_pctb", symbol), (close - lower) / (upper - lower))


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_zscore_matches_talib_sma_and_population_stddev(panel: Panel, symbol: str) -> None:
    close = series(panel, "close", symbol)
    expected = (close - talib.SMA(close, 20)) / talib.STDDEV(close, 20, 1.0)
    assert_matches(output(panel, "zscore_20", symbol), expected)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_obv_matches_talib(panel: Panel, symbol: str) -> None:
    close, volume = series(panel, "close", symbol), series(panel, "volume", symbol)
    assert_matches(output(panel, "obv", symbol), talib.OBV(close, volume))


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_ma_trend_is_close_over_talib_sma_200(panel: Panel, symbol: str) -> None:
    close = series(panel, "close", symbol)
    assert_matches(output(panel, "ma_trend", symbol), close / talib.SMA(close, 200) - 1.0)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_momentum_12_1_is_talib_roc_231_a_month_ago(panel: Panel, symbol: str) -> None:
    close = series(panel, "close", symbol)
    expected = np.full_like(close, np.nan)
    expected[21:] = talib.ROC(close, 231)[:-21] / 100.0
    assert_matches(output(panel, "mom_12_1", symbol), expected)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_volume_ratio_is_volume_over_yesterdays_talib_sma_20(panel: Panel, symbol: str) -> None:
    volume = series(panel, "volume", symbol)
    expected = np.full_like(volume, np.nan)
    expected[1:] = volume[1:] / talib.SMA(volume, 20)[:-1]
    assert_matches(output(panel, "volume_ratio_20", symbol), expected)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_vwap_distance_is_close_over_talib_sums(panel: Panel, symbol: str) -> None:
    high, low, close, volume = (
        series(panel, field, symbol) for field in ("high", "low", "close", "volume")
    )
    typical = talib.TYPPRICE(high, low, close)
    vwap = talib.SUM(typical * volume, 20) / talib.SUM(volume, 20)
    assert_matches(output(panel, "vwap_dist_20", symbol), close / vwap - 1.0)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_amihud_is_talib_sma_of_abs_return_per_dollar(panel: Panel, symbol: str) -> None:
    close, volume = series(panel, "close", symbol), series(panel, "volume", symbol)
    illiquidity = np.abs(talib.ROCP(close, 1)) / (close * volume)
    assert_matches(output(panel, "amihud_20", symbol), talib.SMA(illiquidity, 20) * 1e6)


# --- slow references for what TA-Lib lacks --------------------------------


def slow_zscore(close: list[float], window: int = 20) -> list[float]:
    out = []
    for t in range(len(close)):
        if t < window - 1:
            out.append(math.nan)
            continue
        values = close[t - window + 1 : t + 1]
        mean = sum(values) / window
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / window)
        out.append((close[t] - mean) / std)
    return out


def slow_vwap_distance(high, low, close, volume, window: int = 20) -> list[float]:
    out = []
    for t in range(len(close)):
        if t < window - 1:
            out.append(math.nan)
            continue
        bars = range(t - window + 1, t + 1)
        traded = sum((high[i] + low[i] + close[i]) / 3 * volume[i] for i in bars)
        out.append(close[t] / (traded / sum(volume[i] for i in bars)) - 1)
    return out


def slow_amihud(close, volume, window: int = 20) -> list[float]:
    out = []
    for t in range(len(close)):
        if t < window:
            out.append(math.nan)
            continue
        ratios = [
            abs(close[i] / close[i - 1] - 1) / (close[i] * volume[i])
            for i in range(t - window + 1, t + 1)
        ]
        out.append(sum(ratios) / window * 1e6)
    return out


def slow_volume_ratio(volume, window: int = 20) -> list[float]:
    out = []
    for t in range(len(volume)):
        if t < window:
            out.append(math.nan)
            continue
        out.append(volume[t] / (sum(volume[t - window : t]) / window))
    return out


def slow_momentum_12_1(close) -> list[float]:
    return [math.nan if t < 252 else close[t - 21] / close[t - 252] - 1 for t in range(len(close))]


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_zscore_matches_explicit_loop(panel: Panel, symbol: str) -> None:
    close = panel["close"][symbol].tolist()
    assert_matches(output(panel, "zscore_20", symbol), np.array(slow_zscore(close)))


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_vwap_distance_matches_explicit_loop(panel: Panel, symbol: str) -> None:
    high, low, close, volume = (
        panel[f][symbol].tolist() for f in ("high", "low", "close", "volume")
    )
    expected = np.array(slow_vwap_distance(high, low, close, volume))
    assert_matches(output(panel, "vwap_dist_20", symbol), expected)


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_amihud_matches_explicit_loop(panel: Panel, symbol: str) -> None:
    close, volume = panel["close"][symbol].tolist(), panel["volume"][symbol].tolist()
    assert_matches(output(panel, "amihud_20", symbol), np.array(slow_amihud(close, volume)))


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_volume_ratio_matches_explicit_loop(panel: Panel, symbol: str) -> None:
    volume = panel["volume"][symbol].tolist()
    assert_matches(output(panel, "volume_ratio_20", symbol), np.array(slow_volume_ratio(volume)))


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_momentum_12_1_matches_explicit_loop(panel: Panel, symbol: str) -> None:
    close = panel["close"][symbol].tolist()
    assert_matches(output(panel, "mom_12_1", symbol), np.array(slow_momentum_12_1(close)))


# --- conventions ----------------------------------------------------------


def test_every_output_is_a_float_frame_labelled_like_close(panel: Panel) -> None:
    for factor in all_factors():
        outputs = factor.compute_outputs(panel)
        assert tuple(outputs) == factor.outputs
        for frame in outputs.values():
            assert frame.index.equals(panel["close"].index)
            assert frame.columns.equals(panel["close"].columns)
            assert (frame.dtypes == "float64").all()


@pytest.mark.parametrize(
    "factor", [f for f in all_factors() if f.category != "fundamental"], ids=lambda f: f.name
)
def test_first_defined_value_is_at_the_declared_lookback(panel: Panel, factor) -> None:
    for name, frame in factor.compute_outputs(panel).items():
        first_valid = frame.notna().to_numpy().argmax(axis=0)
        assert (first_valid == factor.lookback).all(), name


def test_primary_output_is_what_compute_returns(panel: Panel) -> None:
    macd = get_factor("macd")
    pd.testing.assert_frame_equal(macd.compute(panel), macd.compute_outputs(panel)["macd"])


def test_macd_histogram_is_line_minus_signal(panel: Panel) -> None:
    outputs = get_factor("macd").compute_outputs(panel)
    pd.testing.assert_frame_equal(outputs["macd_hist"], outputs["macd"] - outputs["macd_signal"])


def test_percent_b_is_a_rescaled_zscore(panel: Panel) -> None:
    pctb = get_factor("bb_pctb").compute(panel)
    zscore = get_factor("zscore_20").compute(panel)
    pd.testing.assert_frame_equal(pctb, 0.5 + zscore / 4.0)


def test_flat_prices_give_neutral_rsi_and_undefined_zscore() -> None:
    index = pd.bdate_range("2024-01-01", periods=40)
    flat = pd.DataFrame({"X": 10.0}, index=index)
    panel = {f: flat for f in ("open", "high", "low", "close")} | {"volume": flat * 1000}
    assert (get_factor("rsi_14").compute(panel)["X"].iloc[14:] == 50.0).all()
    assert get_factor("zscore_20").compute(panel)["X"].isna().all()
    assert get_factor("bb_pctb").compute(panel)["X"].isna().all()


# --- missing bars -------------------------------------------------------------


def _with_missing(panel: Panel, symbol: str, rows: slice) -> Panel:
    gapped = {key: frame.copy() for key, frame in panel.items()}
    for frame in gapped.values():
        frame.iloc[rows, frame.columns.get_loc(symbol)] = np.nan
    return gapped


@pytest.mark.parametrize("rows", [slice(0, 50), slice(300, 305)], ids=["late listing", "halt"])
def test_recursive_factors_skip_missing_bars_like_talib_on_the_dropped_series(
    panel: Panel, rows: slice
) -> None:
    gapped = _with_missing(panel, "AAPL", rows)
    close = gapped["close"]["AAPL"]
    present = close.notna().to_numpy()
    kept_close, kept_volume = (
        close.dropna().to_numpy(),
        gapped["volume"]["AAPL"].dropna().to_numpy(),
    )
    macd, signal, hist = talib.MACD(kept_close, 12, 26, 9)
    expected = {
        "rsi_14": talib.RSI(kept_close, 14),
        "obv": talib.OBV(kept_close, kept_volume),
        "macd": macd,
        "macd_signal": signal,
        "macd_hist": hist,
    }
    for name, reference in expected.items():
        values = factor_for_output(name).compute_outputs(gapped)[name]["AAPL"].to_numpy()
        assert np.isnan(values[~present]).all(), name
        assert_matches(values[present], reference)


def test_window_factors_are_undefined_while_a_missing_bar_is_in_the_window(panel: Panel) -> None:
    gapped = _with_missing(panel, "AAPL", slice(300, 301))
    zscore = get_factor("zscore_20").compute(gapped)["AAPL"]
    assert zscore.iloc[300:320].isna().all()
    assert zscore.iloc[[299, 320]].notna().all()
    untouched = get_factor("zscore_20").compute(panel)
    pd.testing.assert_series_equal(zscore.iloc[320:], untouched["AAPL"].iloc[320:])
