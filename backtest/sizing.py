"""Position sizing helpers for ``Strategy.buy`` / ``Strategy.sell`` (``size=``).

A sizer turns the closes the strategy can see (up to the decision bar) into
either a share count or a fraction of equity. A fraction is converted to
shares at the fill, by the engine: the largest whole number of shares that
``fraction x equity`` pays for at the fill price, commission included, capped
by the buying power left (no leverage). ``AllIn()`` is the default sizing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

import numpy as np


class SizeSpec(NamedTuple):
    """``kind`` "shares": ``value`` whole shares; ``kind`` "equity": ``value`` = fraction of equity."""

    kind: Literal["shares", "equity"]
    value: float


class Sizer(Protocol):
    def resolve(self, closes: np.ndarray) -> SizeSpec:
        """Size from ``closes``, the symbol's closes up to and including the decision bar."""
        ...


_ALL_IN = SizeSpec("equity", 1.0)


@dataclass(frozen=True, slots=True)
class AllIn:
    """All the equity (the default): the largest whole number of shares it pays for."""

    def resolve(self, closes: np.ndarray) -> SizeSpec:
        return _ALL_IN


@dataclass(frozen=True, slots=True)
class FractionOfEquity:
    """``fraction`` of the equity at the fill, e.g. 0.25 for a quarter."""

    fraction: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fraction) and 0.0 < self.fraction <= 1.0):
            raise ValueError(f"fraction must be in (0, 1], got {self.fraction!r}")

    def resolve(self, closes: np.ndarray) -> SizeSpec:
        return SizeSpec("equity", self.fraction)


@dataclass(frozen=True, slots=True)
class FixedShares:
    """Always ``shares`` shares."""

    shares: int

    def __post_init__(self) -> None:
        if isinstance(self.shares, bool) or not isinstance(self.shares, int) or self.shares < 1:
            raise ValueError(f"shares must be a positive integer, got {self.shares!r}")

    def resolve(self, closes: np.ndarray) -> SizeSpec:
        return SizeSpec("shares", float(self.shares))


def realized_volatility(closes: np.ndarray, lookback: int = 20, periods_per_year: int = 252) -> float:
    """Annualized volatility of the last ``lookback`` close-to-close simple returns.

    Sample standard deviation (ddof=1) times ``sqrt(periods_per_year)``; NaN
    when fewer than ``lookback + 1`` valid closes end the series (missing bars
    are skipped).
    """
    valid = closes[~np.isnan(closes)]
    if lookback < 2 or len(valid) < lookback + 1:
        return math.nan
    window = valid[-(lookback + 1) :]
    returns = window[1:] / window[:-1] - 1.0
    return float(np.std(returns, ddof=1) * math.sqrt(periods_per_year))


@dataclass(frozen=True, slots=True)
class VolatilityTarget:
    """Size the position so that its volatility is ``target_vol`` (annualized).

    fraction of equity = ``target_vol / realized_volatility(closes, lookback)``,
    capped at ``max_fraction`` (1.0: no leverage). With too little history to
    measure the volatility the fraction is 0 and the order is rejected; a
    zero realized volatility gives ``max_fraction``.
    """

    target_vol: float
    lookback: int = 20
    max_fraction: float = 1.0
    periods_per_year: int = 252

    def __post_init__(self) -> None:
        if not (math.isfinite(self.target_vol) and self.target_vol > 0):
            raise ValueError(f"target_vol must be > 0, got {self.target_vol!r}")
        if self.lookback < 2:
            raise ValueError(f"lookback must be >= 2, got {self.lookback!r}")
        if not (math.isfinite(self.max_fraction) and 0.0 < self.max_fraction <= 1.0):
            raise ValueError(f"max_fraction must be in (0, 1], got {self.max_fraction!r}")

    def resolve(self, closes: np.ndarray) -> SizeSpec:
        vol = realized_volatility(closes, self.lookback, self.periods_per_year)
        if math.isnan(vol):
            return SizeSpec("equity", 0.0)
        if vol == 0.0:
            return SizeSpec("equity", self.max_fraction)
        return SizeSpec("equity", min(self.max_fraction, self.target_vol / vol))
