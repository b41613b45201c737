"""Momentum factors: N-bar rate of change, 12-1 momentum, MACD, trend vs SMA(200)."""

from __future__ import annotations

import bottleneck as bn
import numpy as np

from factors import arrays
from factors.base import Factor, PanelArrays, register


class _RateOfChange(Factor):
    """Return over ``lookback`` bars as a fraction: ``close_t / close_{t-N} - 1``.

    TA-Lib's ROC is the same number times 100.
    """

    category = "momentum"

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        arrays.lagged_return(data["close"], 0, self.lookback, out[self.name])


@register
class Roc20(_RateOfChange):
    name = "roc_20"
    lookback = 20
    description = "Return over the last 20 bars (fraction)."


@register
class Roc60(_RateOfChange):
    name = "roc_60"
    lookback = 60
    description = "Return over the last 60 bars (fraction)."


@register
class Roc120(_RateOfChange):
    name = "roc_120"
    lookback = 120
    description = "Return over the last 120 bars (fraction)."


@register
class Momentum12_1(Factor):
    """Jegadeesh-Titman 12-1 momentum: ``close_{t-21} / close_{t-252} - 1``.

    The last month (21 bars) is skipped because one-month returns tend to
    reverse, which would dilute the twelve-month continuation effect.
    """

    name = "mom_12_1"
    category = "momentum"
    lookback = 252
    description = "Return from 252 bars ago to 21 bars ago (skips the last month)."
    skip = 21

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        arrays.lagged_return(data["close"], self.skip, self.lookback, out[self.name])


@register
class Macd(Factor):
    """MACD(12, 26, 9): ``macd = EMA12 - EMA26``, ``macd_signal = EMA9(macd)``,
    ``macd_hist = macd - macd_signal``; every EMA uses alpha = 2 / (n + 1).

    Seeding replicates TA-Lib's ``MACD`` exactly (it is *not* the pandas
    ``ewm`` convention of starting on the first price): both price EMAs start
    on the 26th bar, the slow one with the mean of bars 1-26 and the fast one
    with the mean of bars 15-26; the signal EMA starts on the 9th MACD value
    with their mean. All three outputs are therefore first defined on the 34th
    bar (index 33), as in TA-Lib, and agree with ``talib.MACD`` to float
    rounding from there on, with no wash-out period.
    """

    name = "macd"
    category = "momentum"
    lookback = 33
    description = "MACD(12, 26, 9) line, signal and histogram (TA-Lib seeding)."
    outputs = ("macd", "macd_signal", "macd_hist")
    fast, slow, signal = 12, 26, 9

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        line, signal = out["macd"], out["macd_signal"]
        spans = data.spans("close")
        arrays.ema_difference(data["close"], self.fast, self.slow, spans, line)
        line_spans = spans.from_nth(self.slow)
        alpha = 2.0 / (self.signal + 1)
        arrays.seeded_ema(line, self.signal, alpha, self.signal, line_spans, signal)
        # The line is reported from the signal's first value on, as TA-Lib does.
        arrays.fill_before(line, line_spans.nth(self.signal), np.nan)
        np.subtract(line, signal, out=out["macd_hist"])


@register
class MovingAverageTrend(Factor):
    """Distance of the close above its 200-bar simple moving average:
    ``close / SMA(200) - 1`` (0.05 = five percent above the long-term trend)."""

    name = "ma_trend"
    category = "momentum"
    lookback = 199
    description = "close / SMA(200) - 1."
    window = 200

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        close, trend = data["close"], out[self.name]
        np.divide(close, arrays.moving(bn.move_mean, close, self.window), out=trend)
        trend -= 1.0
