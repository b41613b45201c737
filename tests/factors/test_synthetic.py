"""The seeded demo market data generator."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from marketdata.synthetic import (
    DEMO_FUNDAMENTALS,
    DEMO_UNIVERSE,
    MARKET_SYMBOL,
    REGIMES,
    generate_fundamentals,
    generate_universe,
    market_regimes,
    profile_for,
)

START = dt.date(2015, 1, 2)


@pytest.fixture(scope="module")
def universe() -> dict[str, pd.DataFrame]:
    return generate_universe(DEMO_UNIVERSE, START, n_sessions=2520, seed=42)


def test_same_seed_same_bars_and_other_seed_other_bars(universe: dict[str, pd.DataFrame]) -> None:
    again = generate_universe(DEMO_UNIVERSE, START, n_sessions=2520, seed=42)
    for symbol in DEMO_UNIVERSE:
        pd.testing.assert_frame_equal(again[symbol], universe[symbol], check_exact=True)
    other = generate_universe(["AAPL"], START, n_sessions=2520, seed=43)
    assert not np.allclose(other["AAPL"]["close"], universe["AAPL"]["close"])


def test_adding_a_symbol_leaves_the_others_unchanged(universe: dict[str, pd.DataFrame]) -> None:
    few = generate_universe(["KO", "AAPL"], START, n_sessions=2520, seed=42)
    for symbol in few:
        pd.testing.assert_frame_equal(few[symbol], universe[symbol], check_exact=True)


def test_bars_are_consistent_and_rounded_to_cents(universe: dict[str, pd.DataFrame]) -> None:
    for symbol, bars in universe.items():
        assert list(bars.columns) == ["open", "high", "low", "close", "volume"]
        assert (bars.dtypes == "float64").all()
        assert (bars["low"] <= bars[["open", "close"]].min(axis=1)).all(), symbol
        assert (bars[["open", "close"]].max(axis=1) <= bars["high"]).all(), symbol
        assert (bars["low"] > 0).all() and (bars["volume"] >= 1).all()
        prices = bars[["open", "high", "low", "close"]].to_numpy()
        np.testing.assert_allclose(prices * 100, np.round(prices * 100), atol=1e-6)
        assert bars.notna().all().all()


def test_start_prices_and_volumes_follow_the_profiles(universe: dict[str, pd.DataFrame]) -> None:
    for symbol, bars in universe.items():
        profile = profile_for(symbol)
        assert bars["close"].iloc[0] == pytest.approx(profile.price, rel=0.15)
        assert bars["volume"].median() == pytest.approx(profile.avg_volume, rel=0.3)


def test_stocks_move_with_the_market(universe: dict[str, pd.DataFrame]) -> None:
    returns = pd.DataFrame({s: np.log(bars["close"]).diff() for s, bars in universe.items()})
    correlation = returns.corr()[MARKET_SYMBOL].drop(MARKET_SYMBOL)
    assert (correlation > 0.3).all(), correlation.to_dict()
    # Higher beta, bigger share of the market's variance: TSLA vs PG.
    betas = returns.cov()[MARKET_SYMBOL] / returns[MARKET_SYMBOL].var()
    assert betas["TSLA"] > 1.5 > 0.7 > betas["PG"]


def test_all_regimes_occur_and_differ_in_volatility(universe: dict[str, pd.DataFrame]) -> None:
    regimes = market_regimes(2520, seed=42)
    assert set(regimes) == set(REGIMES)
    returns = np.log(universe[MARKET_SYMBOL]["close"]).diff().to_numpy()[1:]
    volatility = {name: returns[regimes[1:] == name].std() for name in REGIMES}
    assert volatility["bull"] < volatility["bear"] < volatility["high_vol"]


def test_volume_rises_with_the_size_of_the_move(universe: dict[str, pd.DataFrame]) -> None:
    bars = universe["AAPL"]
    size = np.log(bars["close"]).diff().abs()
    assert size.corr(np.log(bars["volume"])) > 0.2


def test_sessions_are_taken_as_given() -> None:
    sessions = pd.bdate_range("2024-06-03", "2024-07-31").drop(pd.Timestamp("2024-07-04"))
    bars = generate_universe(
        ["AAPL"], dt.date(2024, 6, 10), dt.date(2024, 7, 19), sessions=sessions
    )
    expected = sessions[(sessions >= "2024-06-10") & (sessions <= "2024-07-19")]
    assert bars["AAPL"].index.equals(expected)
    first_five = generate_universe(["AAPL"], dt.date(2024, 6, 10), n_sessions=5, sessions=sessions)
    assert first_five["AAPL"].index.equals(expected[:5])


def test_business_days_without_a_calendar() -> None:
    bars = generate_universe(["MSFT"], dt.date(2024, 1, 1), dt.date(2024, 1, 31))["MSFT"]
    assert bars.index.equals(pd.bdate_range("2024-01-01", "2024-01-31", name="date"))
    with pytest.raises(ValueError):
        generate_universe(["MSFT"], dt.date(2024, 1, 1))


def test_unknown_tickers_get_a_stable_profile() -> None:
    assert profile_for("ZZZZ") == profile_for("ZZZZ")
    assert profile_for("ZZZZ") != profile_for("YYYY")
    bars = generate_universe(["ZZZZ"], START, n_sessions=50)["ZZZZ"]
    assert bars["close"].iloc[0] == pytest.approx(profile_for("ZZZZ").price, rel=0.15)


def test_fundamentals_are_quarterly_snapshots_known_from_the_start() -> None:
    end = dt.date(2019, 12, 31)
    records = generate_fundamentals(DEMO_UNIVERSE, START, end, seed=42)
    assert list(records.columns) == ["symbol", "as_of", "eps", "book_value_per_share", "roe"]
    assert set(records["symbol"]) == set(DEMO_FUNDAMENTALS)
    assert MARKET_SYMBOL not in set(records["symbol"])
    for symbol, snapshots in records.groupby("symbol"):
        dates = pd.to_datetime(snapshots["as_of"])
        assert dates.min() <= pd.Timestamp(START) and dates.max() <= pd.Timestamp(end)
        gaps = dates.diff().dropna().dt.days
        assert gaps.between(89, 93).all(), symbol
        assert snapshots["eps"].iloc[0] == DEMO_FUNDAMENTALS[symbol][0]
    np.testing.assert_allclose(
        records["roe"], records["eps"] / records["book_value_per_share"], atol=0.01
    )
    again = generate_fundamentals(DEMO_UNIVERSE, START, end, seed=42)
    pd.testing.assert_frame_equal(again, records)
