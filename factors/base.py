"""Factor base class, registry and the shared vectorized primitives.

Every factor is a pure function of a :data:`~factors.panel.Panel`: it returns
a date x symbol float64 frame aligned on ``panel["close"]``, with NaN until the
factor has ``lookback`` bars of history. A value on date ``t`` only uses bars
up to ``t`` (tests/factors/test_no_lookahead.py holds every factor to that).

Missing bars: window factors (rolling means, N-bar returns) are NaN while a
missing bar sits inside their window; recursive ones (EMA, Wilder RSI, OBV)
step over a missing bar as if the row were not there, which is what TA-Lib
computes on the series with its gaps dropped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, TypeVar

import numpy as np
import pandas as pd

from factors.panel import Panel

CATEGORIES: tuple[str, ...] = ("momentum", "mean_reversion", "volume", "fundamental")


class Factor(ABC):
    """One factor: subclasses set the class attributes and implement ``compute``.

    ``outputs`` defaults to ``(name,)``. A factor with several outputs (MACD)
    overrides ``compute_outputs``; its first output is the primary one that
    ``compute`` returns, and it is named like the factor.
    """

    name: ClassVar[str]
    category: ClassVar[str]
    lookback: ClassVar[int]
    description: ClassVar[str]
    outputs: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and "outputs" not in cls.__dict__:
            cls.outputs = (cls.name,)

    @abstractmethod
    def compute(self, panel: Panel) -> pd.DataFrame:
        """The primary output, date x symbol."""

    def compute_outputs(self, panel: Panel) -> dict[str, pd.DataFrame]:
        """Every output of the factor by output name."""
        return {self.name: self.compute(panel)}

    def __repr__(self) -> str:
        return f"<Factor {self.name} ({self.category}, lookback={self.lookback})>"


FACTORS: dict[str, Factor] = {}
_BY_OUTPUT: dict[str, Factor] = {}

FactorType = TypeVar("FactorType", bound=type[Factor])


def register(cls: FactorType) -> FactorType:
    """Class decorator: add one instance of ``cls`` to :data:`FACTORS`."""
    factor = cls()
    if factor.category not in CATEGORIES:
        raise ValueError(f"{cls.__name__}: unknown category {factor.category!r}")
    if factor.outputs[0] != factor.name:
        raise ValueError(f"{cls.__name__}: the first output must be named {factor.name!r}")
    clashes = [output for output in factor.outputs if output in _BY_OUTPUT]
    if factor.name in FACTORS or clashes:
        raise ValueError(f"{cls.__name__}: name or output already registered: {clashes}")
    FACTORS[factor.name] = factor
    for output in factor.outputs:
        _BY_OUTPUT[output] = factor
    return cls


def get_factor(name: str) -> Factor:
    """The registered factor called ``name`` (KeyError if there is none)."""
    try:
        return FACTORS[name]
    except KeyError:
        raise KeyError(f"unknown factor {name!r}; known: {sorted(FACTORS)}") from None


def all_factors() -> list[Factor]:
    """Every registered factor, ordered by category then name."""
    return sorted(FACTORS.values(), key=lambda f: (CATEGORIES.index(f.category), f.name))


def factor_for_output(output_name: str) -> Factor:
    """The factor that produces ``output_name`` ("macd_hist" -> the MACD factor)."""
    try:
        return _BY_OUTPUT[output_name]
    except KeyError:
        raise KeyError(f"no factor produces {output_name!r}; known: {sorted(_BY_OUTPUT)}") from None


# --- vectorized primitives shared by the factor modules -------------------


def previous_valid(values: pd.DataFrame) -> pd.DataFrame:
    """For each bar, the symbol's value on its previous bar (skipping missing rows)."""
    return values.ffill().shift(1).where(values.notna())


def safe_divide(numerator: pd.DataFrame, denominator: pd.DataFrame) -> pd.DataFrame:
    """``numerator / denominator`` with NaN where the denominator is 0 or NaN."""
    return numerator / denominator.where(denominator != 0)


def sma_seeded_ema(
    values: pd.DataFrame, period: int, alpha: float, seed_at: int | None = None
) -> pd.DataFrame:
    """Exponential average ``y_t = y_{t-1} + alpha * (x_t - y_{t-1})`` seeded like TA-Lib.

    TA-Lib starts an EMA (and Wilder's smoothing, alpha = 1/period) at a
    symbol's ``seed_at``-th valid value (1-based; ``period`` by default) with
    the simple mean of the ``period`` valid values ending there; earlier bars
    are NaN. ``seed_at`` larger than ``period`` is how TA-Lib's MACD aligns its
    fast EMA on the slow one. Missing values after the seed are skipped.
    """
    seed_at = period if seed_at is None else seed_at
    if not 1 <= period <= seed_at:
        raise ValueError("need 1 <= period <= seed_at")
    x = values.to_numpy(dtype="float64")
    if not len(x):
        return like(values)
    valid = ~np.isnan(x)
    count = np.cumsum(valid, axis=0)
    running = np.cumsum(np.where(valid, x, 0.0), axis=0)
    columns = np.flatnonzero(count[-1] >= seed_at)
    # count only steps up on valid rows, so the first row reaching a count is that valid value.
    seed_row = np.argmax(count[:, columns] >= seed_at, axis=0)
    first_row = np.argmax(count[:, columns] >= seed_at - period + 1, axis=0)
    window_sum = running[seed_row, columns] - running[first_row, columns] + x[first_row, columns]
    seeded = np.where(count > seed_at, x, np.nan)
    seeded[seed_row, columns] = window_sum / period
    smoothed = (
        pd.DataFrame(seeded, copy=False).ewm(alpha=alpha, adjust=False, ignore_na=True).mean()
    )
    started = valid & (count >= seed_at)
    return like(values, np.where(started, smoothed.to_numpy(), np.nan))


def _window_sum(x: np.ndarray, window: int) -> np.ndarray:
    """Sum over the last ``window`` rows, NaN unless all of them are present.

    Differences of cumulative sums: one pass over the whole 2-D array instead of
    a rolling loop per column. The caller centres ``x`` so that the running
    totals stay small and the differences keep full precision.
    """
    missing = np.isnan(x)
    running = np.cumsum(np.where(missing, 0.0, x), axis=0)
    missing_so_far = np.cumsum(missing, axis=0)
    sums = running.copy()
    sums[window:] -= running[:-window]
    holes = missing_so_far.copy()
    holes[window:] -= missing_so_far[:-window]
    sums[holes > 0] = np.nan
    sums[: window - 1] = np.nan
    return sums


def _first_valid(x: np.ndarray) -> np.ndarray:
    """Each column's first non-NaN value (0 for an empty column): a centre that
    appending later bars cannot change, so results stay free of look-ahead."""
    if not len(x):
        return np.zeros(x.shape[1:])
    present = ~np.isnan(x)
    first = x[np.argmax(present, axis=0), np.arange(x.shape[1])]
    return np.where(present.any(axis=0), first, 0.0)


def rolling_sum(values: pd.DataFrame, window: int) -> pd.DataFrame:
    """Sum over ``window`` rows; NaN unless all are present."""
    x = values.to_numpy(dtype="float64")
    centre = _first_valid(x)
    return like(values, _window_sum(x - centre, window) + window * centre)


def rolling_mean(values: pd.DataFrame, window: int) -> pd.DataFrame:
    """Simple moving average over ``window`` rows; NaN unless all are present."""
    x = values.to_numpy(dtype="float64")
    centre = _first_valid(x)
    return like(values, _window_sum(x - centre, window) / window + centre)


def rolling_std(values: pd.DataFrame, window: int) -> pd.DataFrame:
    """Population (ddof=0) standard deviation over ``window`` rows, as TA-Lib's STDDEV.

    A window whose deviation is under a billionth of its mean is reported as
    exactly 0: below that the sum-of-squares formula only measures rounding.
    """
    x = values.to_numpy(dtype="float64")
    centre = _first_valid(x)
    shifted = x - centre
    mean = _window_sum(shifted, window) / window
    variance = np.maximum(_window_sum(shifted * shifted, window) / window - mean * mean, 0.0)
    std = np.sqrt(variance)
    std[std <= 1e-9 * np.abs(mean + centre)] = 0.0
    return like(values, std)


def like(reference: pd.DataFrame, values: np.ndarray | float = np.nan) -> pd.DataFrame:
    """A float64 frame shaped and labelled like ``reference``, wrapping ``values``
    without a copy (callers pass freshly computed arrays)."""
    return pd.DataFrame(
        values, index=reference.index, columns=reference.columns, dtype="float64", copy=False
    )


# The factor modules register themselves on import; importing them here makes
# FACTORS complete whichever module a caller imports first. They only need the
# names defined above, so the circular import is safe.
from factors import fundamental, mean_reversion, momentum, volume  # noqa: E402,F401
