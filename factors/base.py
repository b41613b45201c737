"""Factor base class, registry, the panel as arrays, and the vectorized primitives.

Every factor is a pure function of a :data:`~factors.panel.Panel`: it returns
a date x symbol float64 frame aligned on ``panel["close"]``, with NaN until the
factor has ``lookback`` bars of history. A value on date ``t`` only uses bars
up to ``t`` (tests/factors/test_no_lookahead.py holds every factor to that).

Missing bars: window factors (rolling means, N-bar returns) are NaN while a
missing bar sits inside their window; recursive ones (EMA, Wilder RSI, OBV)
step over a missing bar as if the row were not there, which is what TA-Lib
computes on the series with its gaps dropped.

Inside, factors compute on whole-panel numpy arrays laid out symbol x date
(:class:`PanelArrays`): a DataFrame keeps each column contiguous, so that
layout is the frame's own memory, read and returned without a copy, and every
symbol's history is one contiguous row for the time-axis kernels of
:mod:`factors.arrays` (bottleneck's moving windows, scipy's ``lfilter`` for the
exponential averages). :class:`FactorValues` computes several factors of one
panel block of symbols by block of symbols, with the intermediates they share
(the close's changes, its 20-bar bands, the dollar volume) computed once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, TypeVar

import bottleneck as bn
import numpy as np
import pandas as pd

from factors import arrays
from factors.panel import Panel

CATEGORIES: tuple[str, ...] = ("momentum", "mean_reversion", "volume", "fundamental")


class Factor(ABC):
    """One factor: subclasses set the class attributes and implement ``write``.

    ``outputs`` defaults to ``(name,)``. A factor with several outputs (MACD)
    lists them; its first output is the primary one that ``compute`` returns,
    and it is named like the factor.
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
    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        """Compute every output for the symbols of ``data`` into ``out[output]``,
        a symbol x date array shaped like ``data``'s fields.

        Writing into arrays the caller owns (rather than returning new ones) is
        what lets :class:`FactorValues` run a factor block of symbols by block
        of symbols straight into the whole panel's result."""

    def compute(self, panel: Panel) -> pd.DataFrame:
        """The primary output, date x symbol."""
        return FactorValues(panel, [self.name])[self.name]

    def compute_outputs(self, panel: Panel) -> dict[str, pd.DataFrame]:
        """Every output of the factor by output name, date x symbol."""
        values = FactorValues(panel, self.outputs)
        return {name: values[name] for name in self.outputs}

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


def _quiet_numpy() -> np.errstate:
    """NaN and inf from 0/0, x/0 or NaN inputs are the intended results, as in pandas."""
    return np.errstate(divide="ignore", invalid="ignore")


# --- the panel as arrays ----------------------------------------------------

_ALL = slice(None)


class PanelArrays:
    """A panel's frames as symbol x date float64 arrays, and the intermediates
    several factors share, each computed once per instance.

    ``data["close"]`` is ``panel["close"].to_numpy().T``: a float64 frame's own
    memory, no copy. A field the panel lacks reads as all NaN; a frame labelled
    differently from the close is first aligned on it. ``data.rows(block)`` is
    the same for a block of symbols, on views of these arrays. Every array read
    here is shared: treat it as read-only (factor outputs are fresh arrays).
    """

    def __init__(
        self, panel: Panel, *, parent: PanelArrays | None = None, rows: slice = _ALL
    ) -> None:
        self.panel = panel
        self.reference = panel["close"]
        self._parent = parent
        self._rows = rows
        self._cache: dict[str, Any] = {}

    def __getitem__(self, field: str) -> np.ndarray:
        return self.shared(f"field:{field}", lambda: self._read(field))

    def rows(self, rows: slice) -> PanelArrays:
        """The arrays of the symbols in ``rows`` (a slice of this panel's columns)."""
        return PanelArrays(self.panel, parent=self, rows=rows)

    def shared(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` the first time ``key`` is asked for, the same object after."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def frame(self, values: np.ndarray) -> pd.DataFrame:
        """A symbol x date array of the whole panel as a date x symbol frame
        labelled like the close (no copy)."""
        return like(self.reference, values.T)

    def _read(self, field: str) -> np.ndarray:
        if self._parent is not None:
            return self._parent[field][self._rows]
        reference = self.reference
        if field not in self.panel:
            return np.full(reference.shape[::-1], np.nan)
        frame = self.panel[field]
        if frame is not reference and not (
            frame.index.equals(reference.index) and frame.columns.equals(reference.columns)
        ):
            frame = frame.reindex(index=reference.index, columns=reference.columns)
        return arrays.symbol_major(frame)

    # Intermediates more than one factor reads.

    def spans(self, field: str) -> arrays.Spans:
        """Where each symbol of ``field`` has values."""
        return self.shared(f"spans:{field}", lambda: arrays.Spans.of(self[field]))

    def change(self) -> np.ndarray:
        """Close minus the symbol's previous close (RSI, OBV)."""
        return self.shared("change", lambda: arrays.change(self["close"], self.spans("close")))

    def dollar_volume(self) -> np.ndarray:
        """``close * volume`` (Amihud, the scoring liquidity filter)."""
        return self.shared("dollar_volume", lambda: self["close"] * self["volume"])


class FactorValues:
    """The outputs of one panel's factors, each factor computed at most once and
    on intermediates computed once.

    ``values["macd_hist"]`` is a date x symbol frame (the MACD factor runs the
    first time any of its three outputs is asked for); ``values.array(name)``
    is the same data as a symbol x date array. ``compute(names)`` computes
    several at once, block of symbols by block of symbols: every factor's
    intermediates for a block are still in the CPU cache when the next one
    reads them (all the technical factors work along time, symbol by symbol).
    Pass it to :func:`factors.scoring.composite_scores` to score without
    recomputing.
    """

    def __init__(self, panel: Panel, outputs: Iterable[str] = ()) -> None:
        self.data = PanelArrays(panel)
        self._arrays: dict[str, np.ndarray] = {}
        self.compute(outputs)

    @property
    def panel(self) -> Panel:
        return self.data.panel

    def compute(self, outputs: Iterable[str]) -> None:
        """Compute the factors behind ``outputs`` that have not run yet (KeyError for
        an unknown output)."""
        pending: dict[str, Factor] = {}
        for output in outputs:
            factor = factor_for_output(output)
            if output not in self._arrays:
                pending[factor.name] = factor
        if not pending:
            return
        shape = self.data.reference.shape[::-1]
        results = {name: np.empty(shape) for f in pending.values() for name in f.outputs}
        with _quiet_numpy():
            for rows in arrays.blocks(*shape):
                block = self.data.rows(rows)
                for factor in pending.values():
                    factor.write(block, {name: results[name][rows] for name in factor.outputs})
        self._arrays.update(results)

    def array(self, output: str) -> np.ndarray:
        self.compute([output])
        return self._arrays[output]

    def __getitem__(self, output: str) -> pd.DataFrame:
        return self.data.frame(self.array(output))


# --- the same primitives on date x symbol frames, for callers outside the library


def previous_valid(values: pd.DataFrame) -> pd.DataFrame:
    """For each bar, the symbol's value on its previous bar (skipping missing rows)."""
    x = arrays.symbol_major(values)
    return like(values, arrays.previous_valid(x, arrays.Spans.of(x)).T)


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
    return like(values, arrays.seeded_ema(arrays.symbol_major(values), period, alpha, seed_at).T)


def rolling_mean(values: pd.DataFrame, window: int) -> pd.DataFrame:
    """Simple moving average over ``window`` rows; NaN unless all are present."""
    return like(values, arrays.moving(bn.move_mean, arrays.symbol_major(values), window).T)


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
