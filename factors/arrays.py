"""Symbol x date array kernels: the vectorized primitives the factors compute with.

Every array is laid out symbols x dates (time runs along the last axis), the
memory of a float64 date x symbol DataFrame (``frame.to_numpy().T``), so each
symbol's history is one contiguous row. One call covers the whole panel:
bottleneck's moving windows, scipy's ``lfilter`` for exponential averages,
plain numpy for the rest. Missing values are NaN; which kernel skips them and
which propagates them is stated on each.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import bottleneck as bn
import numpy as np
import pandas as pd
from scipy.signal import lfilter


def symbol_major(frame: pd.DataFrame) -> np.ndarray:
    """A date x symbol frame as a C-contiguous symbol x date float64 array (no copy
    for a float64 frame held in one block)."""
    return np.ascontiguousarray(frame.to_numpy(dtype="float64").T)


@dataclass(frozen=True)
class Spans:
    """Where each row (symbol) of an array has values: its first and last
    valid position and how many it has; ``holed`` lists the rows with a
    missing value between their first and last. Rows without values have
    ``count`` 0."""

    valid: np.ndarray
    first: np.ndarray
    last: np.ndarray
    count: np.ndarray
    holed: np.ndarray

    @classmethod
    def of(cls, x: np.ndarray) -> Spans:
        valid = ~np.isnan(x)
        count = np.count_nonzero(valid, axis=-1)
        if not x.shape[-1]:
            zeros = np.zeros(len(x), dtype=np.intp)
            return cls(valid, zeros, zeros - 1, count, np.empty(0, dtype=np.intp))
        first = valid.argmax(axis=-1)
        last = x.shape[-1] - 1 - valid[:, ::-1].argmax(axis=-1)
        holed = np.flatnonzero((count > 0) & (last - first + 1 != count))
        return cls(valid, first, last, count, holed)

    def nth(self, n: int) -> np.ndarray:
        """Each row's position of its ``n``-th value (1-based); -1 when it has fewer."""
        position = np.where(self.count >= n, self.first + n - 1, -1)
        for row in self.holed:
            if self.count[row] >= n:
                position[row] = np.flatnonzero(self.valid[row])[n - 1]
        return position


def fill_before(x: np.ndarray, start: np.ndarray, value: float) -> None:
    """Set ``x[i, :start[i]]`` to ``value`` for every row, in place."""
    for position in np.unique(start):
        if position > 0:
            x[start == position, :position] = value


def shift(x: np.ndarray, lag: int) -> np.ndarray:
    """``x`` moved ``lag`` positions later along time, NaN in front."""
    shifted = np.full(x.shape, np.nan)
    if lag < x.shape[-1]:
        shifted[:, lag:] = x[:, : x.shape[-1] - lag]
    return shifted


def lagged_return(x: np.ndarray, recent: int, past: int) -> np.ndarray:
    """``x[t - recent] / x[t - past] - 1``, NaN for the first ``past`` positions."""
    out = np.full(x.shape, np.nan)
    n = x.shape[-1] - past
    if n > 0:
        np.divide(x[:, past - recent : past - recent + n], x[:, :n], out=out[:, past:])
        out[:, past:] -= 1.0
    return out


def previous_valid(x: np.ndarray, spans: Spans) -> np.ndarray:
    """Each value's predecessor in its row, skipping missing positions; NaN where
    ``x`` is missing or has no predecessor."""
    previous = shift(x, 1)
    after_last = spans.last + 1
    ended = np.flatnonzero((spans.count > 0) & (after_last < x.shape[-1]))
    previous[ended, after_last[ended]] = np.nan
    for row in spans.holed:
        kept = np.flatnonzero(spans.valid[row])
        previous[row] = np.nan
        previous[row, kept[1:]] = x[row, kept[:-1]]
    return previous


def moving(statistic: Callable[..., np.ndarray], x: np.ndarray, window: int) -> np.ndarray:
    """A bottleneck moving-window ``statistic`` over time, NaN unless the whole
    window is present (bottleneck refuses a window longer than the series)."""
    if window > x.shape[-1]:
        return np.full(x.shape, np.nan)
    return statistic(x, window, min_count=window, axis=-1)


def moving_mean_std(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Moving mean and population standard deviation (TA-Lib's STDDEV).

    A window whose deviation is under a billionth of its mean is reported as
    exactly 0: below that the deviation only measures rounding.
    """
    mean = moving(bn.move_mean, x, window)
    std = moving(bn.move_std, x, window)
    std[std <= 1e-9 * np.abs(mean)] = 0.0
    return mean, std


def seeded_ema(
    x: np.ndarray, period: int, alpha: float, seed_at: int, spans: Spans | None = None
) -> np.ndarray:
    """``y_t = (1 - alpha) * y_{t-1} + alpha * x_t`` along each row, seeded like
    TA-Lib (see :func:`factors.base.sma_seeded_ema`), stepping over missing values."""
    spans = Spans.of(x) if spans is None else spans
    out = np.full(x.shape, np.nan)
    enough = spans.count >= seed_at
    holed = np.zeros(len(x), dtype=bool)
    holed[spans.holed] = True
    plain = np.flatnonzero(enough & ~holed)
    if len(plain) == len(x):
        out = _contiguous_ema(x, spans.first + seed_at - 1, period, alpha)
    elif len(plain):
        out[plain] = _contiguous_ema(x[plain], spans.first[plain] + seed_at - 1, period, alpha)
    for row in np.flatnonzero(enough & holed):
        kept = np.flatnonzero(spans.valid[row])
        seed = np.array([seed_at - 1])
        out[row, kept] = _contiguous_ema(x[row, kept][None], seed, period, alpha)[0]
    return out


def _contiguous_ema(x: np.ndarray, seed: np.ndarray, period: int, alpha: float) -> np.ndarray:
    """The seeded EMA of rows whose values are contiguous: row ``i`` starts at
    ``seed[i]`` with the mean of the ``period`` values ending there.

    One ``lfilter`` over every row: zeros before the seed keep the filter at 0
    until the seed, whose input is chosen so the filter lands on the mean
    there; a missing value after the row's last propagates NaN to its end.
    """
    rows = np.arange(len(x))
    start = x[rows[:, None], seed[:, None] + np.arange(1 - period, 1)].sum(axis=-1) / period
    inputs = x.copy()
    fill_before(inputs, seed, 0.0)
    inputs[rows, seed] = start / alpha
    smoothed = lfilter([alpha], [1.0, alpha - 1.0], inputs, axis=-1)
    fill_before(smoothed, seed, np.nan)
    return smoothed
