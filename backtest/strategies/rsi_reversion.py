"""Mean reversion on Wilder's RSI: buy oversold, exit on the way back to neutral."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backtest.engine import Act, Data
from backtest.sizing import AllIn, FractionOfEquity
from backtest.strategies.base import ParamError, Strategy, param


def wilder_rsi(close: pd.DataFrame, period: int) -> pd.DataFrame:
    """Wilder's RSI, seeded like TA-Lib's ``RSI`` (the factor library's primitives).

    NaN for the first ``period`` bars and on bars a symbol has no data; 50
    when price has not moved over the window.
    """
    from factors.base import previous_valid, sma_seeded_ema

    change = close - previous_valid(close)
    gain = sma_seeded_ema(change.clip(lower=0.0), period, 1.0 / period)
    loss = sma_seeded_ema((-change).clip(lower=0.0), period, 1.0 / period)
    total = gain + loss
    return (100.0 * gain / total.where(total != 0)).mask(total == 0, 50.0)


class RsiReversion(Strategy):
    """RSI mean reversion, per symbol, on the bar's close.

    Flat and RSI < ``lower``: buy. Long and RSI > ``exit``: close. With
    ``allow_short``, also: flat and RSI > ``upper``: sell short; short and
    RSI < ``exit``: close. Orders are market orders (next bar's open); each
    symbol trades ``1 / number of symbols`` of the equity (all-in for one).
    """

    id = "rsi_reversion"
    description = (
        "Wilder RSI mean reversion: buy when RSI drops below `lower`, exit when it rises "
        "above `exit`; optionally short above `upper` and cover below `exit`."
    )

    @dataclass(frozen=True)
    class Params:
        period: int = param(14, minimum=2, description="RSI lookback in bars (Wilder smoothing).")
        lower: float = param(30.0, minimum=0, maximum=100, description="Buy when the RSI is below this level.")
        exit: float = param(50.0, minimum=0, maximum=100, description="Close when the RSI gets back across this level.")
        upper: float = param(
            70.0, minimum=0, maximum=100, description="Short when the RSI is above this level (with allow_short)."
        )
        allow_short: bool = param(False, description="Also trade the overbought side short.")

        def __post_init__(self) -> None:
            if not self.lower < self.exit:
                raise ParamError("exit", f"must be above lower ({self.lower}), got {self.exit}")
            if not self.exit < self.upper:
                raise ParamError("upper", f"must be above exit ({self.exit}), got {self.upper}")

    params: Params

    def init(self, data: Data) -> None:
        p = self.params
        rsi = wilder_rsi(pd.DataFrame(data.close), p.period).to_numpy()
        self.indicator("rsi", rsi)
        n_symbols = len(data.symbols)
        self.size = AllIn() if n_symbols == 1 else FractionOfEquity(1.0 / n_symbols)
        # on_bar below, as arrays (a NaN RSI compares False: no action).
        with np.errstate(invalid="ignore"):
            short_entry = (rsi > p.upper) & p.allow_short
            self.act_by_position(
                flat=np.select([rsi < p.lower, short_entry], [Act.BUY, Act.SELL], Act.NONE),
                long=np.where(rsi > p.exit, Act.CLOSE, Act.NONE),
                short=np.where(rsi < p.exit, Act.CLOSE, Act.NONE),
                size=self.size,
            )

    def on_bar(self, data: Data) -> None:
        p = self.params
        rsi = data["rsi"][-1]
        for col, value in enumerate(rsi.tolist()):
            if value != value:
                continue
            held = self.position(col)
            if held == 0:
                if value < p.lower:
                    self.buy(col, size=self.size)
                elif p.allow_short and value > p.upper:
                    self.sell(col, size=self.size)
            elif (held > 0 and value > p.exit) or (held < 0 and value < p.exit):
                self.close(col)
