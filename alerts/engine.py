"""The AlertEngine: which alerts does a price fire? Pure numpy over all alerts at once.

Alerts become an :class:`AlertBook` (one array per attribute, one entry per alert); a tick or
a batch of quotes becomes a :class:`MarketView` (one entry per symbol); :func:`evaluate`
answers for every alert with a handful of vector operations, however many alerts a symbol
has. Conditions:

- ``price_above`` / ``price_below``: price >= / <= threshold;
- ``pct_change``: move from the previous daily close in percent, ``up`` >= +threshold,
  ``down`` <= -threshold, no direction: either way;
- ``rsi_cross``: RSI-14 crosses the threshold between the last daily close and now (``up``:
  before < threshold <= now; ``down``: before > threshold >= now; no direction: either), the
  live price being today's provisional close;
- ``macd_cross``: the MACD(12, 26, 9) line crosses its signal line, same convention with the
  difference line - signal and 0.

Each firing says which way it went (:attr:`Firing.crossed`): the way an RSI or MACD cross went,
the way a ``pct_change`` moved; an alert without a direction learns it there.

Exactly at the threshold fires. Prices and thresholds have 6 decimals, so comparisons allow
a float tolerance far below that tick (rounding never decides, a cent always does).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from alerts.indicators import IndicatorStates

PRICE_ABOVE, PRICE_BELOW, PCT_CHANGE, RSI_CROSS, MACD_CROSS = (
    "price_above", "price_below", "pct_change", "rsi_cross", "macd_cross",
)
CONDITIONS: tuple[str, ...] = (PRICE_ABOVE, PRICE_BELOW, PCT_CHANGE, RSI_CROSS, MACD_CROSS)
INDICATOR_CONDITIONS = frozenset({RSI_CROSS, MACD_CROSS})
CONDITION_CODE = {name: code for code, name in enumerate(CONDITIONS)}
DIRECTION_CODE = {"": 0, "up": 1, "down": -1}

PRICE_TOLERANCE = 5e-8  # well under the 0.000001 price tick
PERCENT_TOLERANCE = 1e-11  # under a 0.000001 move on a 1,000,000 price, in percent
INDICATOR_TOLERANCE = 1e-9


@dataclass(frozen=True)
class AlertRule:
    """The engine's view of one alert."""

    id: int
    symbol: str
    condition_type: str
    threshold: Decimal | float
    direction: str = ""


@dataclass(frozen=True)
class AlertBook:
    """Alerts as parallel arrays; ``symbol_index`` points into ``symbols``."""

    ids: np.ndarray
    symbols: tuple[str, ...]
    symbol_index: np.ndarray
    condition: np.ndarray
    threshold: np.ndarray
    direction: np.ndarray

    @classmethod
    def from_rules(cls, rules: Iterable[AlertRule]) -> AlertBook:
        rules = list(rules)
        symbols = tuple(dict.fromkeys(rule.symbol for rule in rules))
        position = {symbol: i for i, symbol in enumerate(symbols)}
        return cls(
            ids=np.array([r.id for r in rules], dtype="int64"),
            symbols=symbols,
            symbol_index=np.array([position[r.symbol] for r in rules], dtype="int64"),
            condition=np.array([CONDITION_CODE[r.condition_type] for r in rules], dtype="int8"),
            threshold=np.array([float(r.threshold) for r in rules], dtype="float64"),
            direction=np.array([DIRECTION_CODE[r.direction or ""] for r in rules], dtype="int8"),
        )

    def __len__(self) -> int:
        return len(self.ids)

    def needs_indicators(self) -> set[str]:
        """Symbols with an RSI or MACD alert (only those need the daily indicator state)."""
        codes = [CONDITION_CODE[name] for name in INDICATOR_CONDITIONS]
        return {self.symbols[i] for i in np.unique(self.symbol_index[np.isin(self.condition, codes)])}


@dataclass(frozen=True)
class MarketView:
    """Per symbol of a book: the price now, the previous close and the indicators before/now."""

    price: np.ndarray
    previous_close: np.ndarray
    rsi_prev: np.ndarray
    rsi_now: np.ndarray
    macd_diff_prev: np.ndarray
    macd_diff_now: np.ndarray

    @classmethod
    def build(cls, symbols: tuple[str, ...], prices: Mapping[str, float], states: IndicatorStates) -> MarketView:
        """``states`` must be aligned with ``symbols``; a symbol without a price never fires."""
        if states.symbols != symbols:
            raise ValueError("indicator states are not aligned with the book's symbols")
        price = np.array([float(prices.get(s, np.nan)) for s in symbols], dtype="float64")
        rsi_now, macd_diff_now = states.step(price)
        return cls(price, states.last_close, states.rsi, rsi_now, states.macd_diff, macd_diff_now)

    def evidence(self, symbol_indices: Iterable[int]) -> dict[int, dict[str, float | None]]:
        """symbol index -> the numbers an alert on it was judged by (None where unknown)."""
        names = ("price", "previous_close", "rsi_prev", "rsi_now", "macd_diff_prev", "macd_diff_now")
        wanted = sorted(set(symbol_indices))
        columns = {name: getattr(self, name)[wanted].tolist() for name in names}
        return {
            i: {name: (columns[name][k] if np.isfinite(columns[name][k]) else None) for name in names}
            for k, i in enumerate(wanted)
        }


def evaluate(book: AlertBook, market: MarketView) -> np.ndarray:
    """A boolean per alert of ``book``: does its condition hold? NaN inputs never fire."""
    s = book.symbol_index
    threshold, direction, condition = book.threshold, book.direction, book.condition
    up, down, either = direction > 0, direction < 0, direction == 0
    price, previous = market.price[s], market.previous_close[s]
    with np.errstate(invalid="ignore", divide="ignore"):
        change_pct = (price - previous) / previous * 100.0
        pct_hit = (
            (up & (change_pct >= threshold - PERCENT_TOLERANCE))
            | (down & (change_pct <= -threshold + PERCENT_TOLERANCE))
            | (either & (np.abs(change_pct) >= threshold - PERCENT_TOLERANCE))
        )
        rsi_prev, rsi_now = market.rsi_prev[s], market.rsi_now[s]
        rsi_up = (rsi_prev < threshold) & (rsi_now >= threshold - INDICATOR_TOLERANCE)
        rsi_down = (rsi_prev > threshold) & (rsi_now <= threshold + INDICATOR_TOLERANCE)
        rsi_hit = ((up | either) & rsi_up) | ((down | either) & rsi_down)
        macd_prev, macd_now = market.macd_diff_prev[s], market.macd_diff_now[s]
        macd_up = (macd_prev < 0) & (macd_now >= -INDICATOR_TOLERANCE)
        macd_down = (macd_prev > 0) & (macd_now <= INDICATOR_TOLERANCE)
        macd_hit = ((up | either) & macd_up) | ((down | either) & macd_down)
        return np.select(
            [
                condition == CONDITION_CODE[PRICE_ABOVE],
                condition == CONDITION_CODE[PRICE_BELOW],
                condition == CONDITION_CODE[PCT_CHANGE],
                condition == CONDITION_CODE[RSI_CROSS],
                condition == CONDITION_CODE[MACD_CROSS],
            ],
            [
                price >= threshold - PRICE_TOLERANCE,
                price <= threshold + PRICE_TOLERANCE,
                pct_hit,
                rsi_hit,
                macd_hit,
            ],
            default=False,
        ) & np.isfinite(price)


def crossed(book: AlertBook, market: MarketView, alerts: np.ndarray) -> list[str | None]:
    """Which way each of ``alerts`` (indices into ``book``) went: "up"/"down", None for a price level.

    An RSI cross went up when RSI was below the level at the last close, a MACD cross when the
    line was below its signal; a ``pct_change`` went up when the price is above the previous close.
    """
    s, condition = book.symbol_index[alerts], book.condition[alerts]
    with np.errstate(invalid="ignore"):
        went_up = np.select(
            [condition == CONDITION_CODE[RSI_CROSS], condition == CONDITION_CODE[MACD_CROSS],
             condition == CONDITION_CODE[PCT_CHANGE]],
            [market.rsi_prev[s] < book.threshold[alerts], market.macd_diff_prev[s] < 0,
             market.price[s] >= market.previous_close[s]],
            default=False,
        )
    directional = np.isin(condition, [CONDITION_CODE[name] for name in (RSI_CROSS, MACD_CROSS, PCT_CHANGE)])
    return [("up" if u else "down") if d else None for u, d in zip(went_up.tolist(), directional.tolist())]


@dataclass(frozen=True)
class Firing:
    """One alert whose condition holds, with the numbers that made it fire (None: unknown).

    ``crossed`` is the way it went ("up"/"down"; None for a price level).
    """

    alert_id: int
    symbol: str
    evidence: dict[str, float | None]
    crossed: str | None = None


class AlertEngine:
    """A book of alerts, evaluated against prices: ``AlertEngine(rules).fired(prices, states)``."""

    def __init__(self, rules: Iterable[AlertRule]):
        self.book = AlertBook.from_rules(rules)

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.book.symbols

    def needs_indicators(self) -> set[str]:
        return self.book.needs_indicators()

    def fired(self, prices: Mapping[str, float], states: IndicatorStates) -> list[Firing]:
        """The alerts whose condition holds at ``prices`` (symbol -> price), in book order."""
        if not len(self.book):
            return []
        market = MarketView.build(self.book.symbols, prices, states)
        hit = np.flatnonzero(evaluate(self.book, market))
        ids, symbol_index = self.book.ids[hit].tolist(), self.book.symbol_index[hit].tolist()
        evidence = market.evidence(symbol_index)
        ways = crossed(self.book, market, hit)
        return [Firing(alert_id, self.book.symbols[s], evidence[s], way)
                for alert_id, s, way in zip(ids, symbol_index, ways)]


def rule_matches(rule: AlertRule, price: Decimal | float, states: IndicatorStates | None = None) -> bool:
    """One alert at one price (``states`` for the previous close and indicators, else unknown)."""
    states = states if states is not None else IndicatorStates.unknown((rule.symbol,))
    return bool(AlertEngine([rule]).fired({rule.symbol: float(price)}, states))
