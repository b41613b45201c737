"""Mean-reversion factors: Wilder RSI(14), Bollinger %B(20, 2), 20-bar z-score."""

from __future__ import annotations

import numpy as np

from factors import arrays
from factors.base import Factor, PanelArrays, register


@register
class Rsi14(Factor):
    """Wilder's RSI over 14 bars, as ``talib.RSI(close, 14)``.

    Average gain and loss start on bar 15 (index 14) as the simple means of
    the first 14 close-to-close changes, then follow Wilder's smoothing
    ``avg_t = (13 * avg_{t-1} + x_t) / 14``; RSI = 100 * gain / (gain + loss).
    One deliberate difference: when price has not moved at all over the
    window (gain = loss = 0) the RSI is the neutral 50, where TA-Lib reports 0.
    """

    name = "rsi_14"
    category = "mean_reversion"
    lookback = 14
    description = "Wilder RSI(14), 0-100; high means overbought."
    period = 14

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        change = data.change()
        spans = data.spans("close").from_nth(2)
        alpha = 1.0 / self.period
        gain = arrays.seeded_ema(np.maximum(change, 0.0), self.period, alpha, self.period, spans)
        # The EMA is linear: the average loss is minus the average of the negative changes.
        loss = arrays.seeded_ema(np.minimum(change, 0.0), self.period, alpha, self.period, spans)
        np.negative(loss, out=loss)
        total = np.add(gain, loss, out=loss)
        rsi = np.divide(gain, total, out=out[self.name])
        rsi *= 100.0
        rsi[total == 0] = 50.0


class _BandFactor(Factor):
    """Shared 20-bar mean and population standard deviation of the close."""

    category = "mean_reversion"
    lookback = 19
    window = 20

    def _zscore(self, data: PanelArrays, out: np.ndarray) -> np.ndarray:
        """The 20-bar z-score of the close into ``out`` (from the shared bands)."""
        close = data["close"]
        mean, deviation = data.shared(
            f"bands:{self.window}", lambda: arrays.moving_mean_std(close, self.window)
        )
        zscore = np.subtract(close, mean, out=out)
        zscore /= deviation
        zscore[deviation == 0] = np.nan
        return zscore


@register
class BollingerPercentB(_BandFactor):
    """Bollinger %B for bands SMA(20) +/- 2 population standard deviations
    (``talib.BBANDS(close, 20, 2, 2)``): ``(close - lower) / (upper - lower)``.

    0 is the lower band, 1 the upper band. It equals ``0.5 + zscore_20 / 4``:
    both are kept because strategies and users speak in either unit.
    """

    name = "bb_pctb"
    description = "Bollinger %B(20, 2): 0 at the lower band, 1 at the upper band."
    nbdev = 2.0

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        percent_b = self._zscore(data, out[self.name])
        percent_b /= 2.0 * self.nbdev
        percent_b += 0.5


@register
class ZScore20(_BandFactor):
    """``(close - SMA(20)) / std(20)`` with the population standard deviation,
    the same convention as the Bollinger bands. NaN when the window is flat."""

    name = "zscore_20"
    description = "Standard deviations of the close above its 20-bar mean."

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        self._zscore(data, out[self.name])
