"""The pure half of the SignalEngine: composite scores, signals and their track record.

Pipeline, all vectorized over the whole panel:

1. compute the weighted factor outputs (:data:`DEFAULT_WEIGHTS`);
2. drop symbols that fail the filters on a date (too little history, or a
   20-bar median dollar volume under the floor): they get NaN everywhere;
3. z-score each output across the remaining symbols per date, winsorized
   at +/-3 (:func:`cross_sectional_zscore`);
4. composite = weighted mean of the z-scores (a negative weight means "low is
   bullish"), re-z-scored across symbols so the score is in z units on every
   date whatever the weights;
5. map the score to a direction and a strength (:func:`direction_and_strength`)
   and look up how past signals like it did (:func:`signal_evidence`).

Every value on date ``t`` uses bars up to ``t`` only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, overload

import bottleneck as bn
import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from factors import arrays
from factors.base import FactorValues, PanelArrays, like
from factors.panel import Panel
from marketdata import calendar

DEFAULT_WEIGHTS: dict[str, float] = {
    "mom_12_1": 1.0,  # twelve-month continuation, the best-documented equity factor
    "roc_60": 0.5,  # intermediate (quarter) momentum
    "macd_hist": 0.5,  # trend acceleration, divided by close (see PRICE_SCALED_OUTPUTS)
    "rsi_14": -0.5,  # short-term overbought -> expect a pullback
    "zscore_20": -0.5,  # stretched above its 20-bar mean -> expect reversion
    "volume_ratio_20": 0.25,  # participation confirms the move
}
"""Output name -> weight. Weights need not sum to one: the composite divides by
the absolute weight of the outputs available for a symbol on a date."""

PRICE_SCALED_OUTPUTS: frozenset[str] = frozenset({"macd", "macd_signal", "macd_hist"})
"""Outputs in price units: they are divided by the close before z-scoring, or a
$500 stock would always out-score a $20 one."""

WINSOR_LIMIT = 3.0
FLAT_THRESHOLD = 0.25
STRENGTH_SCALE = 2.0
STRENGTH_BUCKETS = 4
LIQUIDITY_WINDOW = 20
MIN_WEIGHT_COVERAGE = 0.5
"""A symbol needs outputs carrying at least this share of the total absolute
weight on a date to get a composite score (mom_12_1 alone needs 252 bars)."""

LONG, SHORT, FLAT = "LONG", "SHORT", "FLAT"
_CODE_TO_DIRECTION = {1: LONG, -1: SHORT, 0: FLAT}


def cross_sectional_zscore(df: pd.DataFrame) -> pd.DataFrame:
    """Per date (row), ``(x - mean) / std`` across symbols, clipped to +/-3.

    The standard deviation is the population one: the symbols on a date are
    the whole cross-section, not a sample of it. A date with fewer than two
    values is NaN; a date where every value is equal is 0 (no information).
    """
    values = np.ascontiguousarray(df.to_numpy(dtype="float64"))
    with np.errstate(divide="ignore", invalid="ignore"):
        return like(df, _zscore_across_symbols(values))


def _zscore_across_symbols(values: np.ndarray) -> np.ndarray:
    """:func:`cross_sectional_zscore` of a date x symbol array, each date a
    contiguous row reduced on its own (its numbers never depend on which other
    dates are computed with it). Returns a fresh array."""
    mean = bn.nanmean(values, axis=1)
    std = bn.nanstd(values, axis=1)
    z = np.subtract(values, mean[:, None])
    z /= std[:, None]
    # A date is flat when its deviation is under 1e-12 of its largest |value|.
    # Every |value| is under |mean| + sqrt(n) * std, so only dates whose std is
    # that small against this bound (or undefined) need the exact test.
    bound = np.abs(mean) + np.sqrt(values.shape[1]) * std
    suspect = np.flatnonzero(~(std > 1e-12 * bound))
    if len(suspect):
        rows = values[suspect]
        missing = np.isnan(rows)
        largest = np.fmax.reduce(np.abs(rows), axis=1)
        flat = std[suspect] <= 1e-12 * largest
        z[suspect[flat]] = np.where(missing[flat], np.nan, 0.0)
        z[suspect[(~missing).sum(axis=1) < 2]] = np.nan
    return np.clip(z, -WINSOR_LIMIT, WINSOR_LIMIT, out=z)


@dataclass(frozen=True)
class _ScoredPanel:
    """Each weighted output (symbol x date), its z-scores on the last date (one
    per symbol) and the score frame."""

    raw: dict[str, np.ndarray]
    last_zscores: dict[str, np.ndarray]
    score: pd.DataFrame


def _median_at_least(values: np.ndarray, window: int, floor: float) -> np.ndarray:
    """Whether the median of each row's last ``window`` values is >= ``floor``;
    False while any of them is missing.

    Counting decides almost every window without sorting it: with more than
    half of the window at or above the floor the median is too, with fewer
    than half it is not. Only an even window split exactly in half needs its
    median, computed for those windows alone.
    """
    at_least = (values >= floor).astype("float64")
    at_least[np.isnan(values)] = np.nan
    count = arrays.moving(bn.move_sum, at_least, window)
    result = count > window / 2
    if window % 2 == 0:
        rows, ends = np.nonzero(count == window // 2)
        if len(rows):
            windows = sliding_window_view(values, window, axis=-1)[rows, ends - window + 1]
            result[rows, ends] = np.median(windows, axis=-1) >= floor
    return result


def _eligible(data: PanelArrays, min_history: int, min_dollar_volume: float) -> np.ndarray:
    """Symbol x date: a bar, at least ``min_history`` bars so far and a 20-bar
    median dollar volume at or above ``min_dollar_volume``."""
    spans = data.spans("close")
    eligible = spans.valid.copy()
    if min_history > 0:
        arrays.fill_before(eligible, spans.nth(min_history), False)
    eligible &= _median_at_least(data.dollar_volume(), LIQUIDITY_WINDOW, min_dollar_volume)
    return eligible


def _score_panel(
    panel: Panel,
    weights: dict[str, float] | None,
    min_history: int,
    min_dollar_volume: float,
    factor_values: FactorValues | None = None,
) -> _ScoredPanel:
    weights = {
        k: float(w) for k, w in (DEFAULT_WEIGHTS if weights is None else weights).items() if w
    }
    if not weights:
        raise ValueError("weights must contain at least one non-zero weight")
    values = FactorValues(panel) if factor_values is None else factor_values
    if values.panel is not panel:
        raise ValueError("factor_values were computed on another panel")
    values.compute(weights)
    raw = {output: values.array(output) for output in weights}
    close = values.data["close"]
    score = np.empty(close.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        eligible = _eligible(values.data, min_history, min_dollar_volume)
        # Every date is scored on its own, across the symbols: dates go block by
        # block, each block turned date x symbol, so that the dozen passes over
        # each output stay in the CPU cache.
        for dates in arrays.blocks(close.shape[1], close.shape[0]):
            zscores = _weighted_zscores(raw, close, eligible, dates)
            score[:, dates] = _composite(zscores, weights).T
        last = slice(max(close.shape[1] - 1, 0), None)
        last_zscores = _weighted_zscores(raw, close, eligible, last)
    return _ScoredPanel(
        raw=raw,
        last_zscores={output: z[-1:].ravel() for output, z in last_zscores.items()},
        score=values.data.frame(score),
    )


def _weighted_zscores(
    raw: dict[str, np.ndarray], close: np.ndarray, eligible: np.ndarray, dates: slice
) -> dict[str, np.ndarray]:
    """Each output's cross-sectional z-scores over the eligible symbols on
    ``dates``, date x symbol."""
    ineligible = ~eligible[:, dates].T
    zscores = {}
    for output, values in raw.items():
        candidates = values[:, dates].T
        if output in PRICE_SCALED_OUTPUTS:
            candidates = candidates / close[:, dates].T
        zscores[output] = _zscore_across_symbols(np.where(ineligible, np.nan, candidates))
    return zscores


def _composite(zscores: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """The weighted mean of the z-scores each symbol has, where they carry enough
    weight, re-z-scored across symbols (date x symbol)."""
    shape = next(iter(zscores.values())).shape
    total, covered = np.zeros(shape), np.zeros(shape)
    for output, z in zscores.items():
        missing = np.isnan(z)
        np.copyto(z, 0.0, where=missing)
        z *= weights[output]
        total += z
        np.add(covered, abs(weights[output]), out=covered, where=~missing)
    total /= covered
    total[covered < MIN_WEIGHT_COVERAGE * sum(abs(w) for w in weights.values())] = np.nan
    return _zscore_across_symbols(total)


def composite_scores(
    panel: Panel,
    weights: dict[str, float] | None = None,
    min_history: int = 130,
    min_dollar_volume: float = 1e6,
    *,
    factor_values: FactorValues | None = None,
) -> pd.DataFrame:
    """Composite factor score per date x symbol, in cross-sectional z units (+/-3).

    ``weights`` maps factor *output* names to weights (default
    :data:`DEFAULT_WEIGHTS`); a negative weight means a low value is bullish.
    A symbol gets NaN on a date when it has fewer than ``min_history`` bars so
    far, when the median of ``close * volume`` over its last 20 bars is under
    ``min_dollar_volume``, or when the outputs it has cover less than half of
    the total absolute weight.

    ``factor_values``: the :class:`~factors.base.FactorValues` of this same
    ``panel`` when the caller has computed factors on it already; the outputs
    it holds are used as they are, not computed again.
    """
    return _score_panel(panel, weights, min_history, min_dollar_volume, factor_values).score


def _direction_codes(score: np.ndarray) -> np.ndarray:
    """1 LONG, -1 SHORT, 0 FLAT (NaN scores are FLAT)."""
    with np.errstate(invalid="ignore"):
        return np.where(score >= FLAT_THRESHOLD, 1, np.where(score <= -FLAT_THRESHOLD, -1, 0))


def _strength(score: np.ndarray) -> np.ndarray:
    return np.nan_to_num(np.minimum(np.abs(score) / STRENGTH_SCALE, 1.0), nan=0.0)


@overload
def direction_and_strength(score: float) -> tuple[str, float]: ...
@overload
def direction_and_strength(score: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]: ...
@overload
def direction_and_strength(score: pd.Series) -> tuple[pd.Series, pd.Series]: ...


def direction_and_strength(score: Any) -> tuple[Any, Any]:
    """Map a composite score (z units) to ``(direction, strength)``.

    - direction: LONG when ``score >= 0.25``, SHORT when ``score <= -0.25``,
      FLAT in between; a quarter of a standard deviation is too close to the
      cross-sectional average to act on.
    - strength: ``min(|score| / 2, 1)``, so 1.0 means two standard deviations
      or more from the average symbol.

    A missing score (a symbol that failed the filters) is ``("FLAT", 0.0)``.
    Works on a float, a Series or a DataFrame; the result has the same shape.
    """
    if isinstance(score, (pd.DataFrame, pd.Series)):
        values = score.to_numpy(dtype="float64")
        codes = _direction_codes(values)
        labels = np.select([codes == 1, codes == -1], [LONG, SHORT], FLAT).astype(object)
        strength = _strength(values)
        if isinstance(score, pd.DataFrame):
            return (
                pd.DataFrame(labels, index=score.index, columns=score.columns),
                pd.DataFrame(strength, index=score.index, columns=score.columns),
            )
        return pd.Series(labels, index=score.index), pd.Series(strength, index=score.index)
    value = np.float64(score)
    return _CODE_TO_DIRECTION[int(_direction_codes(value))], float(_strength(value))


def _buckets(strength: np.ndarray) -> np.ndarray:
    scaled = np.floor(np.clip(strength, 0.0, 1.0) * STRENGTH_BUCKETS)
    return np.minimum(scaled, STRENGTH_BUCKETS - 1)


@overload
def strength_bucket(strength: float) -> int: ...
@overload
def strength_bucket(strength: pd.DataFrame) -> pd.DataFrame: ...
@overload
def strength_bucket(strength: pd.Series) -> pd.Series: ...


def strength_bucket(strength: Any) -> Any:
    """Quartile of a strength in 0..1: [0, .25) -> 0, [.25, .5) -> 1,
    [.5, .75) -> 2, [.75, 1] -> 3. Frames and Series keep NaN (float dtype)."""
    buckets = _buckets(np.asarray(strength, dtype="float64"))
    if isinstance(strength, pd.DataFrame):
        return like(strength, buckets)
    if isinstance(strength, pd.Series):
        return pd.Series(buckets, index=strength.index)
    if np.isnan(buckets):
        raise ValueError("strength is NaN")
    return int(buckets)


def _row_at(index: pd.DatetimeIndex, as_of: Any) -> int:
    """Position of the last row dated on or before ``as_of`` (-1 if none).

    ``as_of`` is a session date; a timezone-aware datetime is first turned into
    its New York date, the calendar the sessions are dated in.
    """
    moment = pd.Timestamp(as_of)
    if moment.tzinfo is not None:
        moment = moment.tz_convert(calendar.market_tz()).tz_localize(None)
    return int(index.searchsorted(moment.normalize(), side="right")) - 1


def _check_horizon(horizon: int) -> None:
    if horizon < 1:
        raise ValueError("horizon must be >= 1")


@dataclass(frozen=True)
class _SignalHistory:
    """Past signals whose forward window ends on or before row ``end``."""

    codes: np.ndarray
    buckets: np.ndarray
    forward: np.ndarray

    @classmethod
    def build(
        cls, scores: pd.DataFrame, close: pd.DataFrame, end: int, horizon: int
    ) -> _SignalHistory:
        last = end - horizon  # the last signal row whose window closes by row `end`
        if last < 0:
            empty = np.empty((0, scores.shape[1]))
            return cls(empty.astype(int), empty, empty)
        past = scores.to_numpy(dtype="float64")[: last + 1]
        prices = close.reindex(index=scores.index, columns=scores.columns).to_numpy(dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            forward = prices[horizon : end + 1] / prices[: last + 1] - 1.0
        return cls(_direction_codes(past), _buckets(_strength(past)).astype(int), forward)

    def evidence(self, code: int, bucket: int, horizon: int) -> dict[str, Any]:
        if code == 0:
            return _evidence_stats(np.empty(0), horizon)
        match = (self.codes == code) & (self.buckets == bucket) & np.isfinite(self.forward)
        return _evidence_stats(self.forward[match] * code, horizon)


def _evidence_stats(returns: np.ndarray, horizon: int) -> dict[str, Any]:
    gains, losses = returns[returns > 0], returns[returns < 0]
    return {
        "win_rate": float(len(gains) / len(returns)) if len(returns) else None,
        "rr_ratio": float(gains.mean() / -losses.mean()) if len(gains) and len(losses) else None,
        "sample_size": len(returns),
        "horizon": horizon,
    }


def signal_evidence(
    scores: pd.DataFrame, close: pd.DataFrame, as_of: Any, symbol: str, horizon: int = 10
) -> dict[str, Any]:
    """How past signals like ``symbol``'s signal on ``as_of`` played out.

    The signal is the direction and strength bucket of ``scores`` on the last
    row dated on or before ``as_of`` (a date; an aware datetime counts by its
    New York date). The evidence pools the *whole universe*
    (every symbol, not only ``symbol``): a single symbol has too few signals in
    any one bucket for a stable rate, and the scores are cross-sectional, so a
    +1.5 z score means the same thing on any symbol. A past signal counts when
    it has the same direction and the same strength bucket and its forward
    ``horizon``-row window ends on or before ``as_of`` (no look-ahead). Its
    outcome is ``close[t + horizon] / close[t] - 1``, sign flipped for SHORT.

    Returns ``win_rate`` (share of outcomes > 0), ``rr_ratio`` (mean gain /
    mean absolute loss; None without both gains and losses), ``sample_size``
    and ``horizon``. A FLAT signal has no directional outcome: sample 0.
    """
    _check_horizon(horizon)
    end = _row_at(scores.index, as_of)
    if end < 0:
        return _evidence_stats(np.empty(0), horizon)
    score = np.float64(scores[symbol].iloc[end])
    history = _SignalHistory.build(scores, close, end, horizon)
    return history.evidence(
        int(_direction_codes(score)), strength_bucket(float(_strength(score))), horizon
    )


def _clean(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def latest_signals(
    panel: Panel,
    as_of: Any = None,
    weights: dict[str, float] | None = None,
    horizon: int = 10,
    min_history: int = 130,
    min_dollar_volume: float = 1e6,
) -> list[dict[str, Any]]:
    """The signal of every scored symbol on the last session on or before ``as_of``.

    The panel is cut at ``as_of`` first (default: its last date), so nothing
    after it is read. Symbols without a score that day (filters, too little
    history) are left out; FLAT signals are kept for the caller to filter.
    Each item: ``symbol``, ``as_of`` (date), ``direction``, ``strength``,
    ``score``, ``factors`` (``{output: {"value": raw, "zscore": z}}``, None
    where missing), and the evidence keys of :func:`signal_evidence`.
    Items come in the panel's column order.
    """
    _check_horizon(horizon)
    if as_of is not None:
        end = _row_at(panel["close"].index, as_of)
        panel = {key: frame.iloc[: end + 1] for key, frame in panel.items()}
    if panel["close"].empty:
        return []
    scored = _score_panel(panel, weights, min_history, min_dollar_volume)
    scores = scored.score
    end = len(scores) - 1
    history = _SignalHistory.build(scores, panel["close"], end, horizon)
    today = scores.iloc[end]
    codes, strengths = _direction_codes(today.to_numpy()), _strength(today.to_numpy())
    evidence_cache: dict[tuple[int, int], dict[str, Any]] = {}
    session: dt.date = scores.index[end].date()
    signals = []
    for position, symbol in enumerate(scores.columns):
        score = today.iloc[position]
        if np.isnan(score):
            continue
        key = (int(codes[position]), strength_bucket(float(strengths[position])))
        if key not in evidence_cache:
            evidence_cache[key] = history.evidence(*key, horizon)
        signals.append(
            {
                "symbol": symbol,
                "as_of": session,
                "direction": _CODE_TO_DIRECTION[key[0]],
                "strength": float(strengths[position]),
                "score": float(score),
                "factors": {
                    output: {
                        "value": _clean(scored.raw[output][position, end]),
                        "zscore": _clean(scored.last_zscores[output][position]),
                    }
                    for output in scored.raw
                },
                **evidence_cache[key],
            }
        )
    return signals
