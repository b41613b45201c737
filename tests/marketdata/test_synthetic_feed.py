"""The synthetic feed follows the NYSE session and moves like the stock it quotes.

A seeded feed is driven through simulated sessions on a fake clock (one tick a minute): it is
silent while the market is closed, and a whole session moves as much as the symbol's daily
volatility says a day does, not several days' worth in an hour.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from marketdata import calendar
from marketdata.feeds import SyntheticFeed
from marketdata.synthetic import generate_universe

pytestmark = pytest.mark.django_db
ET = ZoneInfo("America/New_York")
SYMBOLS = ["SPY", "NVDA"]


class FakeClock:
    def __init__(self, at: datetime):
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def daily_bars(bars_factory):
    """61 daily closes of SPY and NVDA from the demo's market model; the std of their log returns."""
    universe = generate_universe(SYMBOLS, date(2025, 1, 2), n_sessions=61, seed=11)
    vols = {}
    for symbol in SYMBOLS:
        closes = universe[symbol]["close"].tolist()
        bars_factory(symbol, closes, end=date(2026, 11, 20))
        vols[symbol] = float(np.diff(np.log(closes)).std(ddof=1))
    return vols


def test_the_feed_sends_nothing_while_the_market_is_closed_and_waits_for_the_open(daily_bars):
    clock = FakeClock(datetime(2026, 11, 24, 8, 0, tzinfo=ET))
    feed = SyntheticFeed(symbols=SYMBOLS, interval=2, seed=1, clock=clock)
    for closed in (datetime(2026, 11, 24, 8, 0), datetime(2026, 11, 24, 9, 29, 59), datetime(2026, 11, 24, 16, 0),
                   datetime(2026, 11, 24, 19, 0), datetime(2026, 11, 26, 11, 0),  # Thanksgiving
                   datetime(2026, 11, 27, 13, 0), datetime(2026, 11, 28, 11, 0)):  # half-day close, Saturday
        clock.at = closed.replace(tzinfo=ET)
        assert feed.batch() == [], closed
    clock.at = datetime(2026, 11, 24, 9, 29, tzinfo=ET)
    assert feed.wait_seconds() == 60  # closed: look again in a minute at most
    clock.at = datetime(2026, 11, 24, 9, 29, 50, tzinfo=ET)
    assert feed.wait_seconds() == 10  # ... or at the open

    clock.at = datetime(2026, 11, 24, 9, 30, tzinfo=ET)
    assert [symbol for symbol, _, _ in feed.batch()] == SYMBOLS
    assert feed.wait_seconds() == 2


def test_the_all_hours_mode_of_load_tests_ticks_on_a_saturday_night(daily_bars):
    clock = FakeClock(datetime(2026, 11, 28, 23, 0, tzinfo=ET))
    feed = SyntheticFeed(symbols=SYMBOLS, interval=2, seed=1, clock=clock, all_hours=True)
    assert [symbol for symbol, _, _ in feed.batch()] == SYMBOLS and feed.wait_seconds() == 2


def test_a_seeded_feed_moves_a_session_as_much_as_the_symbols_daily_volatility(daily_bars):
    """Over 250 simulated sessions the open-to-close log return has the daily volatility of the
    symbol's bars (within 15 %: the standard error of a std over 250 draws is ~4.5 %), and the
    day's high-low range matches a random walk with that volatility (Parkinson: E[ln(H/L)] =
    sqrt(8/pi) sigma, a little less when sampled once a minute)."""
    sessions = calendar.sessions_between(date(2026, 1, 2), date(2026, 12, 31))[:250]
    clock = FakeClock(calendar.regular_hours(sessions[0])[0])
    feed = SyntheticFeed(symbols=SYMBOLS, interval=60, seed=7, clock=clock)
    assert feed.daily_vol == pytest.approx(daily_bars, rel=1e-9)
    returns = {s: [] for s in SYMBOLS}
    ranges = {s: [] for s in SYMBOLS}
    seventy_minutes = {s: [] for s in SYMBOLS}
    previous_close = {s: float(p) for s, p in feed.prices.items()}
    for day in sessions:
        opens, closes = calendar.regular_hours(day)
        path = {s: [previous_close[s]] for s in SYMBOLS}
        clock.at = opens + timedelta(minutes=1)
        while clock.at < closes:
            for symbol, price, _ in feed.batch():
                path[symbol].append(float(price))
            clock.at += timedelta(minutes=1)
        for symbol in SYMBOLS:
            prices = np.array(path[symbol])
            returns[symbol].append(math.log(prices[-1] / prices[0]))
            ranges[symbol].append(math.log(prices.max() / prices.min()))
            seventy_minutes[symbol].append(math.log(prices[70] / prices[0]))
            previous_close[symbol] = prices[-1]
        clock.at = closes + timedelta(hours=1)
        assert feed.batch() == []  # after the close: silent

    for symbol, sigma in daily_bars.items():
        realised = float(np.std(returns[symbol], ddof=1))
        assert realised == pytest.approx(sigma, rel=0.15), (symbol, realised, sigma)
        assert float(np.mean(ranges[symbol])) == pytest.approx(math.sqrt(8 / math.pi) * sigma, rel=0.15), symbol
        # 70 minutes move like 70/390 of a day, not like days: NVDA's -11 % would be a 10-sigma event.
        assert float(np.std(seventy_minutes[symbol], ddof=1)) == pytest.approx(sigma * math.sqrt(70 / 390), rel=0.15)
    assert 0.005 < daily_bars["SPY"] < daily_bars["NVDA"] < 0.05
