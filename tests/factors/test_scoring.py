"""Composite scores, filters, direction mapping and signal evidence."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from factors.panel import Panel, make_panel
from factors.scoring import (
    DEFAULT_WEIGHTS,
    composite_scores,
    cross_sectional_zscore,
    direction_and_strength,
    latest_signals,
    signal_evidence,
    strength_bucket,
)
from marketdata.synthetic import DEMO_UNIVERSE, generate_universe


@pytest.fixture(scope="module")
def panel() -> Panel:
    return make_panel(generate_universe(DEMO_UNIVERSE, dt.date(2017, 1, 3), n_sessions=600, seed=3))


@pytest.fixture(scope="module")
def scores(panel: Panel) -> pd.DataFrame:
    return composite_scores(panel)


# --- cross-sectional z-score ---------------------------------------------------


def test_zscore_centres_and_scales_each_date_with_the_population_std() -> None:
    frame = pd.DataFrame([[1.0, 2.0, 3.0, 4.0], [10.0, 10.0, 30.0, np.nan]])
    z = cross_sectional_zscore(frame)
    row = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(z.iloc[0], (row - row.mean()) / row.std())
    np.testing.assert_allclose(z.iloc[1, :3], [-math.sqrt(0.5), -math.sqrt(0.5), math.sqrt(2.0)])
    assert np.isnan(z.iloc[1, 3])


def test_zscore_is_winsorized_at_three() -> None:
    frame = pd.DataFrame([[0.0] * 19 + [100.0]])
    z = cross_sectional_zscore(frame)
    assert z.iloc[0, -1] == 3.0
    assert z.iloc[0, 0] == pytest.approx(-1 / math.sqrt(19))


def test_zscore_needs_two_symbols_and_is_zero_when_all_equal() -> None:
    frame = pd.DataFrame([[5.0, np.nan, np.nan], [7.0, 7.0, np.nan]])
    z = cross_sectional_zscore(frame)
    assert z.iloc[0].isna().all()
    assert z.iloc[1].tolist()[:2] == [0.0, 0.0]


# --- composite score -------------------------------------------------------


def test_scores_are_cross_sectional_z_units(scores: pd.DataFrame) -> None:
    scored = scores.dropna(how="all")
    assert len(scored) > 300
    assert (scored.abs() <= 3.0).all().all()
    unclipped = scored[(scored.abs() < 3.0).all(axis=1)]
    assert len(unclipped) > 0.8 * len(scored)
    assert unclipped.mean(axis=1).abs().max() < 1e-9
    assert (unclipped.std(axis=1, ddof=0) - 1.0).abs().max() < 1e-9


def test_negative_weight_means_low_is_bullish(panel: Panel) -> None:
    high_bullish = composite_scores(panel, weights={"rsi_14": 1.0})
    low_bullish = composite_scores(panel, weights={"rsi_14": -1.0})
    pd.testing.assert_frame_equal(low_bullish, -high_bullish, atol=1e-12)


def test_single_weight_score_ranks_like_the_factor(panel: Panel) -> None:
    from factors.base import get_factor

    roc = get_factor("roc_60").compute(panel)
    score = composite_scores(panel, weights={"roc_60": 1.0}, min_history=61)
    day = -1
    ranked = score.iloc[day].dropna()
    assert len(ranked) == len(DEMO_UNIVERSE)
    assert list(ranked.sort_values().index) == list(roc.iloc[day][ranked.index].sort_values().index)


def test_scores_do_not_depend_on_a_symbols_price_level(panel: Panel) -> None:
    """Ten times the price at a tenth of the volume is the same stock after a reverse split."""
    scaled = {key: frame.copy() for key, frame in panel.items()}
    for field in ("open", "high", "low", "close"):
        scaled[field]["NVDA"] *= 10.0
    scaled["volume"]["NVDA"] /= 10.0
    pd.testing.assert_frame_equal(composite_scores(scaled), composite_scores(panel), atol=1e-9)


def test_symbols_with_short_history_get_no_score(panel: Panel) -> None:
    late = {key: frame.copy() for key, frame in panel.items()}
    for frame in late.values():
        frame.iloc[:200, frame.columns.get_loc("TSLA")] = np.nan
    score = composite_scores(late, min_history=130)["TSLA"]
    first_bar = 200
    assert score.iloc[: first_bar + 129].isna().all()
    assert score.iloc[first_bar + 129 :].notna().all()


def test_illiquid_symbols_get_no_score(panel: Panel) -> None:
    thin = {key: frame.copy() for key, frame in panel.items()}
    # KO trades ~$1M a day from row 400 on: under the default $1M floor by a hair.
    thin["volume"].iloc[400:, thin["volume"].columns.get_loc("KO")] = (
        999_000.0 / thin["close"]["KO"].iloc[400:]
    )
    score = composite_scores(thin)["KO"]
    # The 20-bar median crosses the floor once 11 of the 20 bars are thin ones.
    assert score.iloc[380:410].notna().all()
    assert score.iloc[410:].isna().all()
    assert composite_scores(thin, min_dollar_volume=500_000.0)["KO"].iloc[410:].notna().all()


def test_default_weights_are_documented_outputs() -> None:
    from factors.base import factor_for_output

    assert {factor_for_output(name).name for name in DEFAULT_WEIGHTS} == {
        "mom_12_1",
        "roc_60",
        "macd",
        "rsi_14",
        "zscore_20",
        "volume_ratio_20",
    }
    assert DEFAULT_WEIGHTS["rsi_14"] < 0 and DEFAULT_WEIGHTS["zscore_20"] < 0


def test_unknown_or_empty_weights_are_refused(panel: Panel) -> None:
    with pytest.raises(KeyError):
        composite_scores(panel, weights={"no_such_factor": 1.0})
    with pytest.raises(ValueError):
        composite_scores(panel, weights={"rsi_14": 0.0})


# --- direction and strength ---------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "direction", "strength"),
    [
        (0.0, "FLAT", 0.0),
        (0.2499, "FLAT", 0.12495),
        (0.25, "LONG", 0.125),
        (-0.25, "SHORT", 0.125),
        (1.0, "LONG", 0.5),
        (-1.5, "SHORT", 0.75),
        (2.0, "LONG", 1.0),
        (-3.0, "SHORT", 1.0),
        (math.nan, "FLAT", 0.0),
    ],
)
def test_direction_and_strength_mapping(score: float, direction: str, strength: float) -> None:
    assert direction_and_strength(score) == (direction, pytest.approx(strength))


def test_direction_and_strength_on_a_frame_is_the_scalar_mapping_per_cell(
    scores: pd.DataFrame,
) -> None:
    directions, strengths = direction_and_strength(scores)
    for row in (200, 400, 599):
        for symbol in ("AAPL", "JNJ", "SPY"):
            expected = direction_and_strength(float(scores[symbol].iloc[row]))
            assert (directions[symbol].iloc[row], strengths[symbol].iloc[row]) == expected
    assert set(np.unique(directions.to_numpy())) == {"LONG", "SHORT", "FLAT"}


@pytest.mark.parametrize(
    ("strength", "bucket"),
    [(0.0, 0), (0.2499, 0), (0.25, 1), (0.4999, 1), (0.5, 2), (0.75, 3), (1.0, 3)],
)
def test_strength_bucket_quartiles(strength: float, bucket: int) -> None:
    assert strength_bucket(strength) == bucket


def test_strength_bucket_on_a_frame_keeps_nan() -> None:
    frame = pd.DataFrame({"A": [0.1, 0.6, np.nan], "B": [0.3, 0.9, 1.0]})
    expected = pd.DataFrame({"A": [0.0, 2.0, np.nan], "B": [1.0, 3.0, 3.0]})
    pd.testing.assert_frame_equal(strength_bucket(frame), expected)


# --- evidence ---------------------------------------------------------------------


def slow_evidence(
    scores: pd.DataFrame, close: pd.DataFrame, as_of, symbol: str, horizon: int
) -> dict:
    """The definition, one past signal at a time."""
    dates = list(scores.index)
    end = max(i for i, date in enumerate(dates) if date <= pd.Timestamp(as_of))
    direction, strength = direction_and_strength(float(scores[symbol].iloc[end]))
    bucket = strength_bucket(strength)
    outcomes = []
    if direction != "FLAT":
        for t in range(end - horizon + 1):
            for other in scores.columns:
                past_direction, past_strength = direction_and_strength(float(scores[other].iloc[t]))
                if past_direction != direction or strength_bucket(past_strength) != bucket:
                    continue
                start, stop = close[other].iloc[t], close[other].iloc[t + horizon]
                if math.isnan(start) or math.isnan(stop):
                    continue
                change = stop / start - 1
                outcomes.append(change if direction == "LONG" else -change)
    gains = [r for r in outcomes if r > 0]
    losses = [r for r in outcomes if r < 0]
    return {
        "win_rate": len(gains) / len(outcomes) if outcomes else None,
        "rr_ratio": (sum(gains) / len(gains)) / (-sum(losses) / len(losses))
        if gains and losses
        else None,
        "sample_size": len(outcomes),
        "horizon": horizon,
    }


def assert_same_evidence(actual: dict, expected: dict) -> None:
    assert actual["sample_size"] == expected["sample_size"]
    assert actual["horizon"] == expected["horizon"]
    for key in ("win_rate", "rr_ratio"):
        if expected[key] is None:
            assert actual[key] is None
        else:
            assert actual[key] == pytest.approx(expected[key], rel=1e-12)


@pytest.mark.parametrize("row", [350, 480, 599])
@pytest.mark.parametrize("symbol", ["AAPL", "TSLA", "PG", "JPM"])
def test_evidence_matches_the_explicit_loop(
    panel: Panel, scores: pd.DataFrame, row: int, symbol: str
) -> None:
    as_of = scores.index[row]
    expected = slow_evidence(scores, panel["close"], as_of, symbol, horizon=10)
    actual = signal_evidence(scores, panel["close"], as_of, symbol, horizon=10)
    assert_same_evidence(actual, expected)


def test_evidence_pools_the_universe_and_only_matured_signals(
    panel: Panel, scores: pd.DataFrame
) -> None:
    symbol = next(
        s for s in scores.columns if direction_and_strength(float(scores[s].iloc[599]))[0] != "FLAT"
    )
    evidence = signal_evidence(scores, panel["close"], scores.index[599], symbol, horizon=10)
    own_history_rows = 599 - 10 + 1
    assert evidence["sample_size"] > own_history_rows / 4
    later = signal_evidence(scores, panel["close"], scores.index[599], symbol, horizon=30)
    assert later["horizon"] == 30


def test_evidence_on_a_date_between_sessions_uses_the_previous_session(
    panel: Panel, scores: pd.DataFrame
) -> None:
    friday = next(d for d in scores.index[400:] if d.day_of_week == 4)
    saturday = friday + pd.Timedelta(days=1)
    assert signal_evidence(scores, panel["close"], saturday, "AAPL") == signal_evidence(
        scores, panel["close"], friday, "AAPL"
    )


def test_an_aware_as_of_counts_by_its_new_york_date(panel: Panel, scores: pd.DataFrame) -> None:
    session = scores.index[500]
    # 01:30 UTC the next day is still the evening of `session` in New York.
    late_evening = (session + pd.Timedelta(hours=25, minutes=30)).tz_localize("UTC")
    assert signal_evidence(scores, panel["close"], late_evening, "AAPL") == signal_evidence(
        scores, panel["close"], session, "AAPL"
    )


def test_flat_signal_and_dates_before_the_data_have_no_evidence(panel: Panel) -> None:
    close = panel["close"].iloc[:50]
    flat = pd.DataFrame(0.0, index=close.index, columns=close.columns)
    empty = {"win_rate": None, "rr_ratio": None, "sample_size": 0, "horizon": 10}
    assert signal_evidence(flat, close, close.index[-1], "AAPL") == empty
    assert signal_evidence(flat, close, close.index[0] - pd.Timedelta(days=1), "AAPL") == empty
    with pytest.raises(ValueError):
        signal_evidence(flat + 1.0, close, close.index[-1], "AAPL", horizon=0)


def test_rr_ratio_is_none_without_losses() -> None:
    index = pd.bdate_range("2024-01-01", periods=30)
    close = pd.DataFrame({"A": np.linspace(10, 20, 30), "B": np.linspace(10, 30, 30)}, index=index)
    scores = pd.DataFrame({"A": 1.0, "B": 1.0}, index=index)
    evidence = signal_evidence(scores, close, index[-1], "A", horizon=5)
    assert evidence == {"win_rate": 1.0, "rr_ratio": None, "sample_size": 2 * 25, "horizon": 5}


# --- latest signals ------------------------------------------------------------------


def test_latest_signals_report_each_scored_symbol(panel: Panel, scores: pd.DataFrame) -> None:
    signals = latest_signals(panel)
    assert [s["symbol"] for s in signals] == list(scores.columns[scores.iloc[-1].notna()])
    by_symbol = {s["symbol"]: s for s in signals}
    aapl = by_symbol["AAPL"]
    assert aapl["as_of"] == scores.index[-1].date()
    assert aapl["score"] == pytest.approx(scores["AAPL"].iloc[-1])
    assert (aapl["direction"], aapl["strength"]) == direction_and_strength(aapl["score"])
    assert set(aapl["factors"]) == set(DEFAULT_WEIGHTS)
    assert set(aapl["factors"]["rsi_14"]) == {"value", "zscore"}
    evidence = signal_evidence(scores, panel["close"], scores.index[-1], "AAPL")
    assert {k: aapl[k] for k in evidence} == evidence


def test_latest_signals_as_of_cuts_the_panel(panel: Panel) -> None:
    as_of = panel["close"].index[450]
    cut = {key: frame.iloc[:451] for key, frame in panel.items()}
    assert latest_signals(panel, as_of=as_of) == latest_signals(cut)
    assert latest_signals(panel, as_of=panel["close"].index[0] - pd.Timedelta(days=1)) == []


def test_latest_signals_leave_out_unscored_symbols(panel: Panel) -> None:
    thin = {key: frame.copy() for key, frame in panel.items()}
    thin["volume"]["KO"] = 1.0
    assert "KO" not in {s["symbol"] for s in latest_signals(thin)}


# --- the composite against its definition, written with pandas ---------------------


def pandas_zscore(frame: pd.DataFrame) -> pd.DataFrame:
    std = frame.std(axis=1, ddof=0)
    z = frame.sub(frame.mean(axis=1), axis=0).div(std, axis=0)
    flat = std <= 1e-12 * frame.abs().max(axis=1)
    z = z.mask(flat, 0.0, axis=0).where(frame.notna())
    z[frame.notna().sum(axis=1) < 2] = np.nan
    return z.clip(-3.0, 3.0)


def pandas_composite(panel: Panel, min_history: int = 130, floor: float = 1e6) -> pd.DataFrame:
    from factors.base import factor_for_output
    from factors.scoring import PRICE_SCALED_OUTPUTS

    close = panel["close"]
    median = (close * panel["volume"]).rolling(20, min_periods=20).median()
    eligible = close.notna() & (close.notna().cumsum() >= min_history) & (median >= floor)
    total = pd.DataFrame(0.0, index=close.index, columns=close.columns)
    covered = total.copy()
    for output, weight in DEFAULT_WEIGHTS.items():
        values = factor_for_output(output).compute_outputs(panel)[output]
        if output in PRICE_SCALED_OUTPUTS:
            values = values / close
        z = pandas_zscore(values.where(eligible))
        total += (weight * z).fillna(0.0)
        covered += z.notna() * abs(weight)
    enough = covered >= 0.5 * sum(abs(w) for w in DEFAULT_WEIGHTS.values())
    return pandas_zscore((total / covered).where(enough))


@pytest.fixture(scope="module")
def rough_panel(panel: Panel) -> Panel:
    """Late listings, a halt, a symbol trading around the liquidity floor."""
    rough = {key: frame.copy() for key, frame in panel.items()}
    for frame in rough.values():
        frame.iloc[:150, frame.columns.get_loc("TSLA")] = np.nan
        frame.iloc[300:306, frame.columns.get_loc("AAPL")] = np.nan
        frame.iloc[:590, frame.columns.get_loc("NFLX")] = np.nan
    rng = np.random.default_rng(11)
    dollars = rng.choice([0.5e6, 1e6, 2e6], size=len(panel["close"]))  # many exact halves
    rough["volume"]["KO"] = dollars / rough["close"]["KO"]
    return rough


def test_composite_matches_its_definition_in_pandas(rough_panel: Panel) -> None:
    expected = pandas_composite(rough_panel)
    actual = composite_scores(rough_panel)
    assert expected.notna().sum().sum() > 5000
    pd.testing.assert_frame_equal(actual, expected, check_exact=False, rtol=0, atol=1e-9)


def test_liquidity_filter_is_the_pandas_rolling_median(rough_panel: Panel) -> None:
    from factors.scoring import _median_at_least

    dollar_volume = rough_panel["close"] * rough_panel["volume"]
    median = dollar_volume.rolling(20, min_periods=20).median()
    expected = (median >= 1e6).to_numpy().T
    actual = _median_at_least(dollar_volume.to_numpy().T.copy(), 20, 1e6)
    np.testing.assert_array_equal(actual, expected)
    at_or_above = (dollar_volume >= 1e6).astype(float).rolling(20).sum()
    assert (at_or_above == 10).sum().sum() > 20  # half the window: counting alone cannot decide
