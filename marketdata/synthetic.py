"""Seeded synthetic daily market data for the demo, the synthetic feed and tests.

Model (log returns, one value per session):

- **Market** (SPY): a Markov chain over three regimes, bull, bear and
  high-volatility, with geometric holding times (:data:`REGIMES`); each
  session draws a Student-t (df 5, unit variance) shock scaled by the
  regime's volatility around its drift.
- **Sectors**: one independent Student-t factor per sector, its volatility
  scaled with the regime's.
- **Stock** = ``drift + beta * market + sector + idiosyncratic``, the
  idiosyncratic part Student-t (df 4) whose volatility rises with the square
  root of the regime's volatility multiplier. Betas, start prices, volumes
  and volatilities per ticker come from :data:`PROFILES` (roughly like the
  real large caps); an unknown ticker gets a profile derived from its name.
- **Bars**: the open gaps from the previous close by part of the day's
  return plus noise; high and low extend beyond open and close by half-normal
  amounts, so ``low <= min(open, close)`` and ``max(open, close) <= high``
  hold after rounding to cents. Volume is log-normal around the ticker's
  average and rises with ``|return|`` relative to the day's volatility.

Random streams are keyed by ``(seed, name)``: the same seed gives the same
bars, and adding a symbol to the list does not change the other symbols.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

MARKET_SYMBOL = "SPY"
TRADING_DAYS = 252


@dataclass(frozen=True)
class Regime:
    name: str
    drift: float  # mean daily market log return
    vol: float  # daily market volatility
    mean_duration: float  # expected sessions before the chain leaves the regime
    exits: dict[str, float]  # where it goes when it leaves


REGIMES: dict[str, Regime] = {
    "bull": Regime("bull", 0.0005, 0.008, 200.0, {"bear": 0.6, "high_vol": 0.4}),
    "bear": Regime("bear", -0.0008, 0.015, 50.0, {"bull": 0.6, "high_vol": 0.4}),
    "high_vol": Regime("high_vol", 0.0, 0.028, 25.0, {"bull": 0.5, "bear": 0.5}),
}
BASE_VOL = REGIMES["bull"].vol
SECTOR_VOL = 0.005


@dataclass(frozen=True)
class TickerProfile:
    price: float  # first close, dollars
    beta: float
    sector: str
    idio_vol: float  # daily idiosyncratic volatility in a calm market
    drift: float  # annual idiosyncratic drift
    avg_volume: float  # shares per session


PROFILES: dict[str, TickerProfile] = {
    "SPY": TickerProfile(520.0, 1.00, "market", 0.0004, 0.00, 60e6),  # the market itself
    "AAPL": TickerProfile(190.0, 1.20, "technology", 0.010, 0.03, 55e6),
    "MSFT": TickerProfile(410.0, 1.10, "technology", 0.009, 0.04, 20e6),
    "GOOG": TickerProfile(170.0, 1.10, "communication", 0.011, 0.03, 20e6),
    "AMZN": TickerProfile(180.0, 1.25, "consumer", 0.013, 0.04, 40e6),
    "NVDA": TickerProfile(120.0, 1.70, "technology", 0.022, 0.15, 300e6),
    "META": TickerProfile(500.0, 1.30, "communication", 0.017, 0.06, 15e6),
    "TSLA": TickerProfile(250.0, 2.00, "consumer", 0.028, 0.02, 90e6),
    "JPM": TickerProfile(200.0, 1.10, "financials", 0.010, 0.03, 9e6),
    "V": TickerProfile(280.0, 0.95, "financials", 0.008, 0.03, 6e6),
    "JNJ": TickerProfile(155.0, 0.55, "healthcare", 0.008, -0.01, 7e6),
    "WMT": TickerProfile(65.0, 0.50, "staples", 0.009, 0.04, 18e6),
    "PG": TickerProfile(165.0, 0.45, "staples", 0.007, 0.01, 7e6),
    "XOM": TickerProfile(115.0, 0.90, "energy", 0.012, 0.00, 15e6),
    "UNH": TickerProfile(500.0, 0.70, "healthcare", 0.012, -0.02, 3.5e6),
    "HD": TickerProfile(360.0, 1.00, "consumer", 0.010, 0.01, 3.5e6),
    "KO": TickerProfile(62.0, 0.60, "staples", 0.007, 0.00, 14e6),
    "PEP": TickerProfile(170.0, 0.55, "staples", 0.007, -0.01, 5e6),
    "DIS": TickerProfile(100.0, 1.15, "communication", 0.013, -0.02, 9e6),
    "NFLX": TickerProfile(650.0, 1.30, "communication", 0.020, 0.08, 3.5e6),
    "INTC": TickerProfile(30.0, 1.10, "technology", 0.018, -0.08, 45e6),
}

DEMO_UNIVERSE: list[str] = list(PROFILES)
MARKET_SECTOR = "market"
SECTORS: tuple[str, ...] = tuple(sorted({p.sector for p in PROFILES.values()} - {MARKET_SECTOR}))

DEMO_FUNDAMENTALS: dict[str, tuple[float, float, float]] = {
    # symbol: (trailing EPS, book value per share, expected annual EPS growth)
    "AAPL": (6.40, 4.40, 0.08),
    "MSFT": (11.80, 36.00, 0.12),
    "GOOG": (7.50, 24.00, 0.12),
    "AMZN": (4.20, 25.00, 0.15),
    "NVDA": (2.50, 2.50, 0.30),
    "META": (20.00, 70.00, 0.12),
    "TSLA": (3.00, 20.00, 0.05),
    "JPM": (17.00, 110.00, 0.05),
    "V": (9.70, 20.00, 0.10),
    "JNJ": (6.00, 30.00, 0.03),
    "WMT": (2.40, 11.00, 0.06),
    "PG": (6.50, 20.00, 0.04),
    "XOM": (8.00, 60.00, 0.00),
    "UNH": (16.00, 95.00, 0.04),
    "HD": (15.00, 3.00, 0.04),
    "KO": (2.50, 6.00, 0.04),
    "PEP": (6.90, 14.00, 0.04),
    "DIS": (2.70, 55.00, 0.08),
    "NFLX": (17.00, 55.00, 0.15),
    "INTC": (0.40, 24.00, -0.05),
}
"""Starting trailing EPS, book value per share and EPS growth per demo stock,
the base of :func:`generate_fundamentals`. The ETF (SPY) has none."""
RETAINED_SHARE = 0.25


def _stream(seed: int, *names: str) -> np.random.Generator:
    """An independent random stream per ``(seed, names)``, stable across runs."""
    return np.random.default_rng([seed, *(zlib.crc32(name.encode()) for name in names)])


def _student_t(rng: np.random.Generator, df: float, size: int | tuple[int, ...]) -> np.ndarray:
    """Student-t draws rescaled to unit variance (fat tails, same volatility)."""
    return rng.standard_t(df, size) / np.sqrt(df / (df - 2.0))


def profile_for(symbol: str) -> TickerProfile:
    """The built-in profile of ``symbol``, or one derived from its name."""
    if symbol in PROFILES:
        return PROFILES[symbol]
    # Seeded by the name alone: an unknown ticker keeps its character across seeds.
    rng = _stream(0, "profile", symbol)
    return TickerProfile(
        price=float(np.round(rng.uniform(20.0, 300.0), 2)),
        beta=float(rng.uniform(0.6, 1.6)),
        sector=str(rng.choice(SECTORS)),
        idio_vol=float(rng.uniform(0.010, 0.025)),
        drift=float(rng.normal(0.0, 0.05)),
        avg_volume=float(rng.lognormal(np.log(5e6), 0.8)),
    )


def session_index(
    start: dt.date,
    end: dt.date | None = None,
    n_sessions: int | None = None,
    sessions: pd.DatetimeIndex | None = None,
) -> pd.DatetimeIndex:
    """The sessions to generate: ``sessions`` (e.g. the NYSE calendar) or
    business days, from ``start``, up to ``end`` and/or the first ``n_sessions``."""
    if sessions is None:
        if end is None and n_sessions is None:
            raise ValueError("give end, n_sessions or sessions")
        if end is None:
            index = pd.bdate_range(start, periods=n_sessions)
        else:
            index = pd.bdate_range(start, end)
    else:
        index = pd.DatetimeIndex(sessions)
        if index.tz is not None:
            index = index.tz_localize(None)
        index = index.normalize().sort_values()
        index = index[index >= pd.Timestamp(start)]
        if end is not None:
            index = index[index <= pd.Timestamp(end)]
    if n_sessions is not None:
        index = index[:n_sessions]
    return pd.DatetimeIndex(index, name="date")


def market_regimes(n_sessions: int, seed: int = 42) -> np.ndarray:
    """Regime name per session: a Markov chain started in "bull".

    Leaving regime ``i`` has probability ``1 / mean_duration`` each session
    (geometric holding time); the next regime is drawn from ``exits``.
    """
    rng = _stream(seed, "regimes")
    names = np.empty(n_sessions, dtype=object)
    position, current = 0, "bull"
    while position < n_sessions:
        regime = REGIMES[current]
        length = int(rng.geometric(1.0 / regime.mean_duration))
        names[position : position + length] = current
        position += length
        targets = list(regime.exits)
        current = str(rng.choice(targets, p=[regime.exits[t] for t in targets]))
    return names


def _bars(
    symbol: str, log_returns: np.ndarray, day_vol: np.ndarray, profile: TickerProfile, seed: int
) -> pd.DataFrame:
    """OHLCV bars from a close-to-close log return path."""
    n = len(log_returns)
    rng = _stream(seed, "bars", symbol)
    close = np.maximum(np.round(profile.price * np.exp(np.cumsum(log_returns)), 2), 0.01)
    previous = np.concatenate(([profile.price], close[:-1]))
    # Overnight gap: ~40% of the day's move happens before the open, plus noise.
    gap = 0.4 * log_returns + rng.normal(0.0, 0.2, n) * day_vol
    open_ = np.maximum(np.round(previous * np.exp(gap), 2), 0.01)
    top, bottom = np.maximum(open_, close), np.minimum(open_, close)
    high = np.maximum(np.round(top * np.exp(np.abs(rng.normal(0.0, 0.5, n)) * day_vol), 2), top)
    low = np.minimum(
        np.round(bottom * np.exp(-np.abs(rng.normal(0.0, 0.5, n)) * day_vol), 2), bottom
    )
    low = np.maximum(low, 0.01)
    # Volume rises with the size of the move relative to the day's volatility;
    # sqrt(2/pi) is E|z| for a standard normal, so the average stays near avg_volume.
    surprise = np.abs(log_returns) / day_vol - np.sqrt(2.0 / np.pi)
    log_volume = (
        np.log(profile.avg_volume) + 0.45 * surprise + rng.normal(0.0, 0.25, n) - 0.25**2 / 2
    )
    volume = np.maximum(np.round(np.exp(log_volume)), 1.0)
    return pd.DataFrame({"open": open_, "high": high, "low": low, "close": close, "volume": volume})


def generate_universe(
    symbols: list[str],
    start: dt.date,
    end: dt.date | None = None,
    n_sessions: int | None = None,
    seed: int = 42,
    sessions: pd.DatetimeIndex | None = None,
) -> dict[str, pd.DataFrame]:
    """Daily OHLCV bars per symbol (see the module docstring for the model).

    ``sessions`` is the trading calendar to use (pass the NYSE sessions);
    without it, business days. Each frame has the float64 columns open, high,
    low, close, volume, prices rounded to cents, indexed by session date. The
    market path is always simulated, so SPY's bars do not depend on whether
    it is requested.
    """
    index = session_index(start, end, n_sessions, sessions)
    n = len(index)
    regimes = market_regimes(n, seed)
    drift = np.array([REGIMES[name].drift for name in regimes])
    vol = np.array([REGIMES[name].vol for name in regimes])
    multiplier = vol / BASE_VOL
    market = drift + vol * _student_t(_stream(seed, "market"), 5.0, n)
    # The index fund's "market" sector carries no sector factor of its own.
    sector_vol = {sector: SECTOR_VOL * multiplier for sector in SECTORS}
    sector_vol[MARKET_SECTOR] = np.zeros(n)
    sectors = {
        sector: sector_vol[sector] * _student_t(_stream(seed, "sector", sector), 5.0, n)
        for sector in sector_vol
    }
    universe = {}
    for symbol in symbols:
        profile = profile_for(symbol)
        idio_vol = profile.idio_vol * np.sqrt(multiplier)
        idio = idio_vol * _student_t(_stream(seed, "idio", symbol), 4.0, n)
        log_returns = (
            profile.drift / TRADING_DAYS + profile.beta * market + sectors[profile.sector] + idio
        )
        day_vol = np.sqrt((profile.beta * vol) ** 2 + sector_vol[profile.sector] ** 2 + idio_vol**2)
        frame = _bars(symbol, log_returns, day_vol, profile, seed)
        frame.index = index
        universe[symbol] = frame
    return universe


def generate_fundamentals(
    symbols: list[str], start: dt.date, end: dt.date, seed: int = 42
) -> pd.DataFrame:
    """Quarterly fundamentals snapshots as long records.

    Columns ``symbol``, ``as_of`` (date), ``eps`` (trailing twelve months),
    ``book_value_per_share``, ``roe`` (= eps / book value). A company reports
    30-50 days after each calendar quarter end (a fixed lag per symbol); the
    first snapshots are dated before ``start``, so values are known from the
    first session. EPS follows a random walk around its growth
    trend; book value grows with retained earnings (a quarter of EPS; the rest is
    paid out or bought back). Symbols
    without a :data:`DEMO_FUNDAMENTALS` entry other than SPY get values
    derived from their profile price (P/E 15-30, P/B 1.5-6).
    """
    last_day = pd.Timestamp(end).date()
    quarter_ends = pd.date_range(
        pd.Timestamp(start) - pd.offsets.QuarterEnd(2), pd.Timestamp(end), freq="QE"
    )
    rows = []
    for symbol in symbols:
        if symbol == MARKET_SYMBOL:
            continue
        rng = _stream(seed, "fundamentals", symbol)
        if symbol in DEMO_FUNDAMENTALS:
            eps0, book0, growth = DEMO_FUNDAMENTALS[symbol]
        else:
            price = profile_for(symbol).price
            eps0, book0, growth = price / rng.uniform(15, 30), price / rng.uniform(1.5, 6), 0.06
        lag = pd.Timedelta(days=30 + zlib.crc32(symbol.encode()) % 21)
        steps = abs(eps0) * rng.normal(growth / 4.0, 0.04, len(quarter_ends))
        eps = eps0 + np.cumsum(steps) - steps[0]
        retained = RETAINED_SHARE * eps / 4.0
        book = np.maximum(book0 + np.cumsum(retained) - retained[0], 0.1 * book0)
        for quarter_end, quarter_eps, quarter_book in zip(quarter_ends, eps, book, strict=True):
            as_of = (quarter_end + lag).date()
            if as_of > last_day:
                continue
            rows.append(
                {
                    "symbol": symbol,
                    "as_of": as_of,
                    "eps": round(float(quarter_eps), 2),
                    "book_value_per_share": round(float(quarter_book), 2),
                    "roe": round(float(quarter_eps / quarter_book), 4),
                }
            )
    return pd.DataFrame(rows, columns=["symbol", "as_of", "eps", "book_value_per_share", "roe"])
