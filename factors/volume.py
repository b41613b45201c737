"""Volume factors: OBV, relative volume, distance from VWAP, Amihud illiquidity."""

from __future__ import annotations

import bottleneck as bn
import numpy as np

from factors import arrays
from factors.base import Factor, PanelArrays, register


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

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        spans = data.spans("close")
        signed = np.sign(data.change(), out=out[self.name])
        # The first bar of each symbol has no previous close: TA-Lib counts it as +volume.
        listed = np.flatnonzero(spans.count)
        signed[listed, spans.first[listed]] = 1.0
        signed *= data["volume"]
        missing = np.isnan(signed)
        signed[missing] = 0.0
        obv = np.cumsum(signed, axis=-1, out=signed)
        obv[missing] = np.nan


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

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        volume, ratio = data["volume"], out[self.name]
        baseline = arrays.moving(bn.move_mean, volume, self.window)
        baseline[baseline == 0] = np.nan
        ratio[:, :1] = np.nan
        np.divide(volume[:, 1:], baseline[:, :-1], out=ratio[:, 1:])


@register
class VwapDistance20(Factor):
    """``close / VWAP_20 - 1`` where ``VWAP_20 = sum(typical * volume) / sum(volume)``
    over the last 20 bars (today included) and ``typical = (high + low + close) / 3``."""

    name = "vwap_dist_20"
    category = "volume"
    lookback = 19
    description = "Distance of the close from its 20-bar volume-weighted average price."
    window = 20

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        close, volume = data["close"], data["volume"]
        traded = data["high"] + data["low"]
        traded += close
        traded /= 3.0
        traded *= volume
        vwap = arrays.moving(bn.move_sum, traded, self.window)
        shares = arrays.moving(bn.move_sum, volume, self.window)
        shares[shares == 0] = np.nan
        vwap /= shares
        distance = np.divide(close, vwap, out=out[self.name])
        distance -= 1.0


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

    def write(self, data: PanelArrays, out: dict[str, np.ndarray]) -> None:
        dollar_volume = data.dollar_volume()
        ratio = arrays.lagged_return(data["close"], 0, 1, np.empty(dollar_volume.shape))
        np.abs(ratio, out=ratio)
        ratio /= dollar_volume
        ratio[dollar_volume == 0] = np.nan
        np.multiply(arrays.moving(bn.move_mean, ratio, self.window), self.scale, out=out[self.name])
