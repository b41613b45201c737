"""Volume factors: OBV, relative volume, distance from VWAP, Amihud illiquidity."""

from __future__ import annotations

import numpy as np
import pandas as pd

from factors.base import Factor, previous_valid, register, rolling_mean, rolling_sum, safe_divide
from factors.panel import Panel


@register
class OnBalanceVolume(Factor):
    """On-balance volume as ``talib.OBV(close, volume)``.

    The running total starts with the first bar's volume, then adds the
    volume on an up close, subtracts it on a down close and keeps it on an
    unchanged close. It is a level, meaningful through its changes, not
    comparable across symbols.
    """

    name = "obv"
    category = "volume"
    lookback = 0
    description = "On-balance volume (running signed volume)."

    def compute(self, panel: Panel) -> pd.DataFrame:
        close, volume = panel["close"], panel["volume"]
        direction = np.sign(close - previous_valid(close))
        # The first bar of each symbol has no previous close: TA-Lib counts it as +volume.
        direction = direction.mask(close.notna() & direction.isna(), 1.0)
        return (direction * volume).cumsum().where(close.notna())


@register
class VolumeRatio20(Factor):
    """Today's volume over the average volume of the 20 *previous* bars.

    Today's bar is left out of the baseline so that a volume spike is
    measured against the volume that came before it (2.0 = twice the usual).
    """

    name = "volume_ratio_20"
    category = "volume"
    lookback = 20
    description = "volume / mean volume of the previous 20 bars."
    window = 20

    def compute(self, panel: Panel) -> pd.DataFrame:
        volume = panel["volume"]
        return safe_divide(volume, rolling_mean(volume.shift(1), self.window))


@register
class VwapDistance20(Factor):
    """``close / VWAP_20 - 1`` where ``VWAP_20 = sum(typical * volume) / sum(volume)``
    over the last 20 bars (today included) and ``typical = (high + low + close) / 3``."""

    name = "vwap_dist_20"
    category = "volume"
    lookback = 19
    description = "Distance of the close from its 20-bar volume-weighted average price."
    window = 20

    def compute(self, panel: Panel) -> pd.DataFrame:
        close, volume = panel["close"], panel["volume"]
        typical = (panel["high"] + panel["low"] + close) / 3.0
        traded = rolling_sum(typical * volume, self.window)
        shares = rolling_sum(volume, self.window)
        return close / safe_divide(traded, shares) - 1.0


@register
class Amihud20(Factor):
    """Amihud (2002) illiquidity: mean over 20 bars of ``|r_t| / (close_t * volume_t)``,
    times 1e6 so the unit is "absolute return per million dollars traded".

    ``r_t`` is the close-to-close return. Higher means a dollar of trading
    moves the price more (less liquid). A bar with no volume has no defined
    ratio, so a window containing one is NaN.
    """

    name = "amihud_20"
    category = "volume"
    lookback = 20
    description = "Mean |return| per $1M traded over 20 bars (illiquidity)."
    window = 20
    scale = 1e6

    def compute(self, panel: Panel) -> pd.DataFrame:
        close = panel["close"]
        ratio = safe_divide((close / close.shift(1) - 1.0).abs(), close * panel["volume"])
        return rolling_mean(ratio, self.window) * self.scale
