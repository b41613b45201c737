"""The context a journal entry keeps of its trade: the plan, the signal, the indicators.

Stored as JSON on the entry when the draft is made, so a later review sees what
the trader saw even if the plan is edited or the bars are re-imported. Decimals
are stored as strings (exact); indicator values as floats rounded to 4 places.

Indicators are computed with the factor library on the symbol's daily bars up to
and including the day (its whole history, so the recursive averages have
settled as in TA-Lib), so "at entry" means "as of the entry session's close":

* ``rsi_14``: Wilder RSI(14) (``factors`` ``rsi_14``);
* ``macd_hist``: MACD(12, 26, 9) histogram (``factors`` ``macd`` output ``macd_hist``);
* ``sma_50_distance``: ``close / SMA(50) - 1``.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from django.db.models import Count, Max, Sum

from factors.base import factor_for_output, get_factor, rolling_mean
from factors.panel import make_panel
from marketdata.models import Bar
from orders.models import TradingPlan

SMA_WINDOW = 50
R_TWO_PLACES = Decimal("0.01")


def decimal_text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def r_multiple(*, direction: str, entry_price: Decimal | None, exit_price: Decimal | None, plan_entry: Decimal,
               plan_stop: Decimal | None) -> Decimal | None:
    """The trade's result per unit in units of the plan's risk (``|plan entry - plan stop|``)."""
    if entry_price is None or exit_price is None or plan_stop is None or plan_entry == plan_stop:
        return None
    sign = 1 if direction == "LONG" else -1
    risk = abs(plan_entry - plan_stop)
    return (sign * (exit_price - entry_price) / risk).quantize(R_TWO_PLACES, rounding=ROUND_HALF_UP)


def plan_context(plan: TradingPlan | None, *, direction: str, entry_price: Decimal | None,
                 exit_price: Decimal | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    planned_rr = None
    if plan.stop_price is not None and plan.target_price is not None and plan.entry_price != plan.stop_price:
        planned_rr = (abs(plan.target_price - plan.entry_price) / abs(plan.entry_price - plan.stop_price)).quantize(
            R_TWO_PLACES, rounding=ROUND_HALF_UP
        )
    realized_r = r_multiple(
        direction=direction, entry_price=entry_price, exit_price=exit_price, plan_entry=plan.entry_price,
        plan_stop=plan.stop_price,
    )
    return {
        "id": plan.pk,
        "direction": plan.direction,
        "entry": decimal_text(plan.entry_price),
        "stop": decimal_text(plan.stop_price),
        "target": decimal_text(plan.target_price),
        "quantity": decimal_text(plan.quantity),
        "planned_rr": decimal_text(planned_rr),
        "r_multiple": decimal_text(realized_r),
        "strategy_tag": plan.strategy_tag,
        "factor_tag": plan.factor_tag,
    }


def signal_context(plan: TradingPlan | None) -> dict[str, Any] | None:
    signal = plan.signal if plan is not None else None
    if signal is None:
        return None
    return {
        "id": signal.pk,
        "as_of": signal.as_of.isoformat(),
        "direction": signal.direction,
        "strength": decimal_text(signal.strength),
        "factors": signal.factors,
        "win_rate": decimal_text(signal.win_rate),
        "rr_ratio": decimal_text(signal.rr_ratio),
        "sample_size": signal.sample_size,
    }


_FRAMES: OrderedDict[str, tuple[tuple, pd.DataFrame]] = OrderedDict()
_FRAMES_LOCK = threading.Lock()
CACHED_SYMBOLS = 64


def _compute_frame(rows: list[tuple], symbol: str) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["date", "open", "high", "low", "close", "volume"]).set_index("date")
    panel = make_panel({symbol: frame})
    close = panel["close"]
    columns = {
        "close": close,
        "rsi_14": get_factor("rsi_14").compute(panel),
        "macd_hist": factor_for_output("macd_hist").compute_outputs(panel)["macd_hist"],
        "sma_50_distance": close / rolling_mean(close, SMA_WINDOW) - 1.0,
    }
    return pd.DataFrame({name: values[symbol] for name, values in columns.items()})


def _indicator_frame(symbol: str) -> pd.DataFrame | None:
    """The symbol's indicator series over its whole bar history, memoized per process.

    The memo is keyed by a fingerprint of the symbol's bars (count, last date,
    highest id, sum of closes), so new or corrected bars recompute it. Reading a
    row of the full series equals computing on the bars up to that row, because
    every factor value only uses bars up to its own date.
    """
    bars = Bar.objects.filter(instrument__symbol=symbol)
    stats = bars.aggregate(count=Count("id"), last=Max("date"), top=Max("id"), total=Sum("close"))
    if not stats["count"]:
        return None
    fingerprint = tuple(stats.values())
    with _FRAMES_LOCK:
        cached = _FRAMES.get(symbol)
        if cached is not None and cached[0] == fingerprint:
            _FRAMES.move_to_end(symbol)
            return cached[1]
    rows = list(bars.order_by("date").values_list("date", "open", "high", "low", "close", "volume"))
    frame = _compute_frame(rows, symbol)
    with _FRAMES_LOCK:
        _FRAMES[symbol] = (fingerprint, frame)
        while len(_FRAMES) > CACHED_SYMBOLS:
            _FRAMES.popitem(last=False)
    return frame


def _rounded(value: float) -> float | None:
    return round(float(value), 4) if math.isfinite(value) else None


EMPTY_INDICATORS = {"as_of": None, "close": None, "rsi_14": None, "macd_hist": None, "sma_50_distance": None}


def _indicators_from(frame: pd.DataFrame | None, day: dt.date | None) -> dict[str, Any]:
    if frame is None or day is None:
        return dict(EMPTY_INDICATORS)
    upto = frame.loc[: pd.Timestamp(day)]
    if upto.empty:
        return dict(EMPTY_INDICATORS)
    row = upto.iloc[-1]
    values = {name: _rounded(row[name]) for name in EMPTY_INDICATORS if name != "as_of"}
    return {"as_of": upto.index[-1].date().isoformat(), **values}


def trade_indicators(symbol: str, entry_date: dt.date | None, exit_date: dt.date | None) -> dict[str, Any]:
    """RSI-14, MACD histogram and SMA-50 distance as of the close of each day (nulls without bars)."""
    frame = _indicator_frame(symbol) if entry_date or exit_date else None
    return {"entry": _indicators_from(frame, entry_date), "exit": _indicators_from(frame, exit_date)}


def trade_context(*, symbol: str, direction: str, plan: TradingPlan | None, entry_date: dt.date | None,
                  exit_date: dt.date | None, entry_price: Decimal | None, exit_price: Decimal | None) -> dict[str, Any]:
    return {
        "plan": plan_context(plan, direction=direction, entry_price=entry_price, exit_price=exit_price),
        "signal": signal_context(plan),
        "indicators": trade_indicators(symbol, entry_date, exit_date),
    }
