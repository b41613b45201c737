"""The factor registry and the panel helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from factors.base import CATEGORIES, FACTORS, all_factors, factor_for_output, get_factor
from factors.panel import OHLCV, make_panel, panel_tail

EXPECTED = {
    "momentum": {"roc_20", "roc_60", "roc_120", "mom_12_1", "macd", "ma_trend"},
    "mean_reversion": {"rsi_14", "bb_pctb", "zscore_20"},
    "volume": {"obv", "volume_ratio_20", "vwap_dist_20", "amihud_20"},
    "fundamental": {"pe", "pb", "roe", "earnings_yield"},
}


def test_registry_holds_the_whole_library_by_category() -> None:
    by_category = {c: {f.name for f in all_factors() if f.category == c} for c in CATEGORIES}
    assert by_category == EXPECTED
    assert set(FACTORS) == set().union(*EXPECTED.values())
    assert [f.category for f in all_factors()] == sorted(
        (f.category for f in all_factors()), key=CATEGORIES.index
    )


def test_outputs_default_to_the_factor_name_and_macd_has_three() -> None:
    assert get_factor("rsi_14").outputs == ("rsi_14",)
    assert get_factor("macd").outputs == ("macd", "macd_signal", "macd_hist")


@pytest.mark.parametrize("output", ["macd", "macd_signal", "macd_hist"])
def test_any_macd_output_finds_the_macd_factor(output: str) -> None:
    assert factor_for_output(output) is get_factor("macd")


def test_every_factor_is_described() -> None:
    for factor in all_factors():
        assert factor.description and factor.lookback >= 0
        assert factor_for_output(factor.name) is factor


def test_unknown_names_raise_key_error() -> None:
    with pytest.raises(KeyError):
        get_factor("nope")
    with pytest.raises(KeyError):
        factor_for_output("nope")


def _bars(dates: list[str], close: list[float]) -> pd.DataFrame:
    close_ = np.array(close)
    return pd.DataFrame(
        {
            "open": close_,
            "high": close_ + 1,
            "low": close_ - 1,
            "close": close_,
            "volume": 100 * close_,
        },
        index=pd.DatetimeIndex(dates),
    )


def test_make_panel_aligns_symbols_on_the_union_of_dates() -> None:
    panel = make_panel(
        {
            "AAA": _bars(["2024-01-03", "2024-01-02"], [2.0, 1.0]),
            "BBB": _bars(["2024-01-03", "2024-01-04"], [5.0, 6.0]),
        }
    )
    assert set(panel) == set(OHLCV)
    close = panel["close"]
    assert list(close.index) == list(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04"]))
    assert close.index.tz is None and close.index.is_monotonic_increasing
    assert list(close.columns) == ["AAA", "BBB"]
    assert (close.dtypes == "float64").all()
    assert close["AAA"].tolist()[:2] == [1.0, 2.0] and np.isnan(close["AAA"].iloc[2])
    assert np.isnan(close["BBB"].iloc[0]) and panel["volume"]["BBB"].iloc[2] == 600.0


def test_make_panel_drops_the_time_zone_and_refuses_incomplete_frames() -> None:
    bars = _bars(["2024-01-02", "2024-01-03"], [1.0, 2.0])
    bars.index = bars.index.tz_localize("America/New_York")
    assert make_panel({"AAA": bars})["close"].index.tz is None
    with pytest.raises(ValueError, match="volume"):
        make_panel({"AAA": bars.drop(columns="volume")})


def test_panel_tail_keeps_the_last_rows_of_every_frame() -> None:
    panel = make_panel({"AAA": _bars(["2024-01-02", "2024-01-03", "2024-01-04"], [1.0, 2.0, 3.0])})
    panel["eps"] = panel["close"] * 0.1
    tail = panel_tail(panel, 2)
    assert set(tail) == set(panel)
    assert all(len(frame) == 2 for frame in tail.values())
    assert tail["close"]["AAA"].tolist() == [2.0, 3.0]
    assert len(panel_tail(panel, 10)["close"]) == 3
    assert len(panel_tail(panel, 0)["close"]) == 0
