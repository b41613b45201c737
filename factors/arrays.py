"""Symbol x date array kernels: the vectorized primitives the factors compute with.

Every array is laid out symbols x dates (time runs along the last axis), the
memory of a float64 date x symbol DataFrame (``frame.to_numpy().T``), so each
symbol's history is one contiguous row. One call covers every row: bottleneck's
moving windows, scipy's ``lfilter`` for the exponential averages, plain numpy
for the rest. Missing values are NaN; each kernel says whether it skips them
or propagates them. Kernels that produce a factor's final values take an
``out`` array to write into, so a factor's results land where the caller
wants them without a copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import bottleneck as bn
import numpy as np
import pandas as pd
from scipy.signal import lfilter


BLOCK_BYTES = 1 << 20
"""About how much of one array a block covers when work is done block by block:
the dozen arrays a factor keeps alive for a block then stay in a core's cache."""


def blocks(n: int, width: int) -> list[slice]:
    """Slices cutting ``range(n)`` into blocks of about :data:`BLOCK_BYTES`, each
    index of the block standing for ``width`` float64 values."""
    size = max(1, BLOCK_BYTES // (8 * max(width, 1)))
    return [slice(start, start + size) for start in range(0, n, size)]


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
        n = x.shape[-1]
        if not n:
            zeros = np.zeros(len(x), dtype=np.intp)
            return cls(valid, zeros, zeros - 1, count, np.empty(0, dtype=np.intp))
        first = valid.argmax(axis=-1)
        last = np.full(len(x), n - 1)
        ended = np.flatnonzero(~valid[:, -1])
        last[ended] = n - 1 - valid[ended, ::-1].argmax(axis=-1)
        return cls._with_holes(valid, first, last, count)

    @classmethod
    def _with_holes(
        cls, valid: np.ndarray, first: np.ndarray, last: np.ndarray, count: np.ndarray
    ) -> Spans:
        holed = np.flatnonzero((count > 0) & (last - first + 1 != count))
        return cls(valid, first, last, count, holed)

    def nth(self, n: int) -> np.ndarray:
        """Each row's position of its ``n``-th value (1-based); -1 when it has fewer."""
        position = np.where(self.count >= n, self.first + n - 1, -1)
        for row in self.holed:
            if self.count[row] >= n:
                position[row] = np.flatnonzero(self.valid[row])[n - 1]
        return position

    def from_nth(self, n: int) -> Spans:
        """The spans of a series defined from each row's ``n``-th value of this one
        on, wherever this one is (the changes of a series: ``n = 2``)."""
        start = self.nth(n)
        valid = self.valid.copy()
        fill_before(valid, start, False)
        count = np.maximum(self.count - (n - 1), 0)
        first = np.where(start >= 0, start, 0)
        return Spans._with_holes(valid, first, self.last, count)


def fill_before(x: np.ndarray, start: np.ndarray, value: float) -> None:
    """Set ``x[i, :start[i]]`` to ``value`` for every row, in place (the whole
    row where ``start[i]`` is negative)."""
    x[start < 0] = value
    for position in np.unique(start):
        if position > 0:
            x[start == position, :position] = value


def lagged_return(x: np.ndarray, recent: int, past: int, out: np.ndarray) -> np.ndarray:
    """``x[t - recent] / x[t - past] - 1`` into ``out``, NaN for the first ``past``
    positions and wherever either value is missing."""
    n = max(x.shape[-1] - past, 0)
    out[:, : x.shape[-1] - n] = np.nan
    if n:
        np.divide(x[:, past - recent : past - recent + n], x[:, :n], out=out[:, past:])
        out[:, past:] -= 1.0
    return out


def change(x: np.ndarray, spans: Spans) -> np.ndarray:
    """Each value minus the row's previous value, stepping over missing ones;
    NaN where ``x`` is missing and on each row's first value."""
    out = np.empty(x.shape)
    out[:, :1] = np.nan
    np.subtract(x[:, 1:], x[:, :-1], out=out[:, 1:])
    for row in spans.holed:
        kept = np.flatnonzero(spans.valid[row])
        out[row] = np.nan
        out[row, kept[1:]] = np.diff(x[row, kept])
    return out


def previous_valid(x: np.ndarray, spans: Spans) -> np.ndarray:
    """Each value's predecessor in its row, stepping over missing positions; NaN
    where ``x`` is missing or has no predecessor."""
    previous = np.empty(x.shape)
    previous[:, :1] = np.nan
    previous[:, 1:] = x[:, :-1]
    after_last = spans.last + 1
    ended = np.flatnonzero((spans.count > 0) & (after_last < x.shape[-1]))
    previous[ended, after_last[ended]] = np.nan
    for row in spans.holed:
        kept = np.flatnonzero(spans.valid[row])
        previous[row] = np.nan
        previous[row, kept[1:]] = x[row, kept[:-1]]
    return previous


def moving(statistic: Callable[..., np.ndarray], x: np.ndarray, window: int) -> np.ndarray:
    """A bottleneck moving-window ``statistic`` (``bn.move_mean``, ...) over time,
    NaN unless the whole window is present (bottleneck itself refuses a window
    longer than the series)."""
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
    x: np.ndarray,
    period: int,
    alpha: float,
    seed_at: int,
    spans: Spans | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``y_t = (1 - alpha) * y_{t-1} + alpha * x_t`` along each row, seeded like
    TA-Lib (see :func:`factors.base.sma_seeded_ema`), stepping over missing values."""
    decay = 1.0 - alpha

    def run(head: np.ndarray, tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        start = head[:, -period:].sum(axis=-1) / period
        smoothed, _ = lfilter([alpha], [1.0, -decay], tail, axis=-1, zi=decay * start[:, None])
        return start, smoothed

    return _seeded_recursion(x, seed_at, Spans.of(x) if spans is None else spans, run, out)


def ema_difference(
    x: np.ndarray, fast: int, slow: int, spans: Spans | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """``EMA(fast) - EMA(slow)`` along each row, both EMAs (alpha = 2 / (n + 1))
    seeded like TA-Lib's MACD on the ``slow``-th value: the slow one with the
    mean of the ``slow`` values up to it, the fast one with the mean of the last
    ``fast`` of them. Missing values are stepped over.

    The difference of two first-order filters is one second-order filter, so
    one ``lfilter`` pass computes it, started from the two EMAs' seeds.
    """
    a1, a2 = 2.0 / (fast + 1), 2.0 / (slow + 1)
    c1, c2 = 1.0 - a1, 1.0 - a2
    numerator = [a1 - a2, a2 * c1 - a1 * c2]
    denominator = [1.0, -(c1 + c2), c1 * c2]

    def run(head: np.ndarray, tail: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        fast_start = head[:, -fast:].sum(axis=-1) / fast
        slow_start = head.sum(axis=-1) / slow
        start = fast_start - slow_start
        # The filter's state after the seed, in lfilter's direct form II transposed.
        state = np.stack([c1 * fast_start - c2 * slow_start, -c1 * c2 * start], axis=-1)
        smoothed, _ = lfilter(numerator, denominator, tail, axis=-1, zi=state)
        return start, smoothed

    return _seeded_recursion(x, slow, Spans.of(x) if spans is None else spans, run, out)


Recursion = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _seeded_recursion(
    x: np.ndarray, seed_at: int, spans: Spans, run: Recursion, out: np.ndarray | None
) -> np.ndarray:
    """A recursion that starts on each row's ``seed_at``-th value, NaN before.

    ``run(head, tail)`` gets rows' first ``seed_at`` values (``head``) and the
    values after them (``tail``) and returns the output at the seed and after
    it. Rows whose values are contiguous are grouped by seed position, one
    vectorized call per group (a missing value after a row's last propagates
    NaN to its end); a row with holes runs alone on its values with the holes
    dropped, so the recursion steps over them.
    """
    out = np.empty(x.shape) if out is None else out
    seed = spans.nth(seed_at)
    holed = np.zeros(len(x), dtype=bool)
    holed[spans.holed] = True
    plain = np.where(holed, -1, seed)
    fill_before(out, seed, np.nan)
    for position in np.unique(plain[plain >= 0]):
        rows = slice(None) if (plain == position).all() else plain == position
        start, smoothed = run(
            x[rows, position + 1 - seed_at : position + 1], x[rows, position + 1 :]
        )
        out[rows, position] = start
        out[rows, position + 1 :] = smoothed
    for row in np.flatnonzero(holed & (seed >= 0)):
        kept = np.flatnonzero(spans.valid[row])
        values = x[row, kept][None]
        start, smoothed = run(values[:, :seed_at], values[:, seed_at:])
        out[row] = np.nan
        out[row, kept[seed_at - 1]] = start[0]
        out[row, kept[seed_at:]] = smoothed[0]
    return out
