"""Event-driven backtest engine: a pure Python/numpy core (no Django).

Per bar: the broker fills the orders placed on earlier bars against this bar
(``Broker.process_bar``), the portfolio is marked, then the strategy sees the
data up to and including this bar (``Strategy.on_bar``) and may place orders,
which can fill from the next bar on. Indicators are computed once, vectorized,
in ``Strategy.init`` and registered with ``Strategy.indicator`` so that ``on_bar``
only ever sees them up to the current bar.

Speed: the loop runs over plain Python ints and numpy rows, and a strategy may
declare, in ``init``, the bars on which it can act (``Strategy.wake_on``).
The loop then visits only those bars and the bars on which orders are
pending; equity between visits is computed afterwards, vectorized, from the
fills. The skipped bars are exactly the bars on which nothing can happen, so
the fills are identical to a run that calls ``on_bar`` on every bar
(``Backtest(..., fast_path=False)``); tests/backtest hold the two to that.
"""

from __future__ import annotations

import datetime
import gc
import math
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from backtest.metrics import compute_metrics
from backtest.result import BacktestResult, Fill, OpenTrade, Trade
from backtest.sizing import AllIn, Sizer

if TYPE_CHECKING:
    from backtest.strategies.base import Strategy

FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

FILL_RULES = """\
Fill rules of the backtest engine (backtest/engine.py):

1. Timing. Orders placed while the strategy handles bar t can fill from bar
   t+1 on. The strategy sees data up to and including bar t only: its arrays
   are read-only views that end at bar t, indicators included.
2. Market orders fill at the open of the symbol's next bar, plus slippage
   against the trader: buys at open x (1 + bps/10,000), sells at
   open x (1 - bps/10,000). A symbol with no bar (NaN) on a date fills nothing
   on that date; its orders wait for its next bar.
3. Market orders due on the same bar fill in this sequence: orders that
   reduce or close a position first (that frees cash), then the others, each
   group in the order placed. Stop and limit orders are handled after them.
   A close order sells or covers whatever position is held when it fills,
   and is cancelled if there is none.
4. Limit orders fill when the bar's range reaches the limit (buy: low <=
   limit; sell: high >= limit), at the limit, or at the open when the bar
   opens beyond it (a better price). No slippage on limit fills.
5. Stop orders trigger when the bar's range reaches the stop (buy: high >=
   stop; sell: low <= stop) and fill at the stop, or at the open when the bar
   gaps through it (a worse price), plus slippage as a market order.
6. A stop and a limit of one one-cancels-other group (a position's stop-loss
   and take-profit) that could both fill in the same bar: if one of them is
   already reached at the open it fills there; otherwise the engine cannot
   know which came first and assumes the worse one for the trader (the lower
   price for a sell, the higher for a buy). The other is cancelled.
   Stop-loss/take-profit orders attached to a market order are live from the
   bar the entry fills on (the entry filled at the open); attached to a limit
   or stop entry they are live from the next bar. They are cancelled when the
   position they protect is closed or reversed.
7. Commission is charged on every fill: max(minimum, rate x notional +
   per_share x shares); the minimum applies per fill. It is paid in cash and
   counted in trade P&L.
8. Sizing. Default sizing is all-in: the largest whole number of shares that
   the current equity pays for at the fill price, commission included. A
   fraction-of-equity order uses that fraction of the equity instead; a
   target order (order_target_percent) moves the position to that fraction
   of the equity at the bar's open. Sized and target orders never use more
   than the buying power left (equity minus the value of open positions: no
   leverage). An order for an explicit number of shares that the buying
   power cannot pay for is rejected, as is a sized order that comes to zero
   shares. A sized order nets against an opposite position; to reverse,
   close first and then place the sized order (as sma_cross does). Equity
   at a fill marks other holdings at this bar's open (their last close if
   they have no bar) and the traded symbol at the fill price.
9. Short sales credit the proceeds to cash and take margin equal to the
   position's value; equity = cash + sum(shares x price).
10. Positions close FIFO; each closed lot is one trade whose P&L is net of
   its share of the entry and exit commissions.
11. The end. A position still open after the last bar stays open: equity is
   marked to the last close, and the position is reported as an open trade,
   outside the trade statistics (which count closed trades only). Orders
   still pending at the end are cancelled.
"""


@dataclass(frozen=True, slots=True)
class CommissionModel:
    """Commission per fill: ``max(minimum, rate * notional + per_share * shares)``.

    ``rate`` is a fraction of notional (0.002 = 0.2 %), ``per_share`` is cash
    per share and ``minimum`` is the least any fill pays.
    """

    rate: float = 0.0
    per_share: float = 0.0
    minimum: float = 0.0

    def __post_init__(self) -> None:
        for name in ("rate", "per_share", "minimum"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"commission {name} must be a finite number >= 0, got {value!r}")
        if self.rate >= 0.1:
            raise ValueError(f"commission rate is a fraction of notional; {self.rate!r} is >= 10 %")

    def cost(self, shares: float, price: float) -> float:
        """Commission for a fill of ``shares`` (> 0) at ``price``."""
        return max(self.minimum, self.rate * shares * price + self.per_share * shares)

    def max_shares(self, budget: float, price: float) -> int:
        """The largest whole number of shares whose cost plus commission is <= ``budget``."""
        if budget <= 0.0 or price <= 0.0:
            return 0
        shares = math.floor(budget / (price * (1.0 + self.rate) + self.per_share))
        if self.minimum > 0.0:
            # cost <= budget needs both parts of the max() to fit.
            shares = min(shares, math.floor((budget - self.minimum) / price))
        # Guard against a quotient that rounded up across an integer.
        while shares > 0 and shares * price + self.cost(shares, price) > budget:
            shares -= 1
        return max(shares, 0)


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP = "stop"


class OrderStatus(StrEnum):
    PENDING = "pending"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


Sizing = Literal["shares", "equity", "target", "close"]

_MARKET = OrderType.MARKET
_LIMIT = OrderType.LIMIT
_STOP = OrderType.STOP
_PENDING = OrderStatus.PENDING


@dataclass(eq=False, slots=True)
class Order:
    """An order as the simulated broker holds it.

    ``side`` is +1 (buy) or -1 (sell); 0 for close and target orders until
    the position they act on is known. ``sizing`` says what ``amount`` is:
    "shares" (a share count), "equity" (a fraction of equity), "target" (a
    target fraction of equity) or "close" (the whole position, amount 0).
    """

    id: int
    symbol: str
    col: int
    side: int
    type: OrderType
    price: float
    sizing: Sizing
    amount: float
    placed_bar: int
    active_from: int
    tag: str = ""
    stop_loss: float = math.nan
    take_profit: float = math.nan
    oco: int = 0
    contingent: bool = False
    status: OrderStatus = OrderStatus.PENDING
    reason: str = ""


class StrategyError(RuntimeError):
    """A strategy broke the engine's contract (e.g. kept full-length history outside ``indicator``)."""


class Data:
    """Market data and indicators as the strategy sees them at the current bar.

    ``data["close"]`` (or ``data.close``) is a read-only ``(bars, symbols)``
    array that ends at the current bar: ``data.close[-1]`` is this bar's
    closes and there is no row after it, so a strategy cannot read the
    future. Indicators registered with ``Strategy.indicator`` are served the same way.
    During ``Strategy.init`` the current bar is the last one (the whole
    history, for vectorized precomputation).
    """

    __slots__ = ("_arrays", "_t", "_wake", "index", "symbols")

    def __init__(self, arrays: dict[str, np.ndarray], index: pd.DatetimeIndex, symbols: tuple[str, ...]):
        self._arrays = arrays
        self._t = len(index) - 1
        self._wake: np.ndarray | None = None
        self.index = index
        self.symbols = symbols

    @property
    def t(self) -> int:
        """Index of the current bar."""
        return self._t

    @property
    def date(self) -> pd.Timestamp:
        return self.index[self._t]

    def __len__(self) -> int:
        return self._t + 1

    def __contains__(self, name: object) -> bool:
        return name in self._arrays

    def __getitem__(self, name: str) -> np.ndarray:
        return self._arrays[name][: self._t + 1]

    @property
    def open(self) -> np.ndarray:
        return self._arrays["open"][: self._t + 1]

    @property
    def high(self) -> np.ndarray:
        return self._arrays["high"][: self._t + 1]

    @property
    def low(self) -> np.ndarray:
        return self._arrays["low"][: self._t + 1]

    @property
    def close(self) -> np.ndarray:
        return self._arrays["close"][: self._t + 1]

    @property
    def volume(self) -> np.ndarray:
        return self._arrays["volume"][: self._t + 1]

    def frame(self, name: str) -> pd.DataFrame | pd.Series:
        """``data[name]`` as a date x symbol DataFrame (a Series for a 1-D indicator), a copy."""
        values = self[name].copy()
        index = self.index[: self._t + 1]
        if values.ndim == 1:
            return pd.Series(values, index=index, name=name)
        return pd.DataFrame(values, index=index, columns=list(self.symbols))

    def panel(self) -> dict[str, pd.DataFrame]:
        """The OHLCV panel up to the current bar (copies), for panel-based libraries."""
        return {name: self.frame(name) for name in FIELDS}

    def _wake_on(self, mask: np.ndarray) -> None:
        self._wake = mask if self._wake is None else (self._wake | mask)

    def _add(self, name: str, values: Any) -> None:
        if name in self._arrays:
            raise ValueError(f"indicator name {name!r} is already taken")
        if isinstance(values, (pd.Series, pd.DataFrame)):
            values = values.to_numpy()
        array = np.array(values, copy=True)
        n, n_symbols = len(self.index), len(self.symbols)
        if array.shape not in ((n,), (n, n_symbols)):
            raise ValueError(f"indicator {name!r} has shape {array.shape}; expected ({n},) or ({n}, {n_symbols})")
        array.flags.writeable = False
        self._arrays[name] = array


def _check_panel(panel: Mapping[str, pd.DataFrame]) -> tuple[pd.DatetimeIndex, tuple[str, ...]]:
    missing = [name for name in FIELDS if name not in panel]
    if missing:
        raise ValueError(f"panel is missing {missing}")
    close = panel["close"]
    index = close.index
    if not isinstance(index, pd.DatetimeIndex):
        raise ValueError("panel frames must be indexed by a DatetimeIndex")
    if index.tz is not None:
        raise ValueError("panel dates must be tz-naive session dates")
    if len(index) == 0 or close.shape[1] == 0:
        raise ValueError("panel has no bars or no symbols")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise ValueError("panel dates must be sorted and unique")
    for name in FIELDS:
        frame = panel[name]
        if not frame.index.equals(index) or not frame.columns.equals(close.columns):
            raise ValueError(f"panel[{name!r}] is not aligned with panel['close']")
    return index, tuple(str(column) for column in close.columns)


def _read_only(frame: pd.DataFrame) -> np.ndarray:
    array = frame.to_numpy(dtype=np.float64, copy=True)
    array.flags.writeable = False
    return array


def _forward_filled(close: np.ndarray) -> np.ndarray:
    """Each symbol's last known close on every bar (NaN before its first bar)."""
    valid = ~np.isnan(close)
    rows = np.where(valid, np.arange(close.shape[0])[:, None], 0)
    np.maximum.accumulate(rows, axis=0, out=rows)
    filled = np.take_along_axis(close, rows, axis=0)
    filled[~np.maximum.accumulate(valid, axis=0)] = np.nan
    return filled


class Broker:
    """The simulated broker and the portfolio it keeps (cash, positions, lots).

    Strategies reach it through ``Strategy.buy/sell/close/...``; the engine
    calls ``process_bar`` once per visited bar before the strategy runs.
    """

    def __init__(
        self,
        *,
        arrays: dict[str, np.ndarray],
        symbols: tuple[str, ...],
        cash: float,
        commission: CommissionModel,
        slippage_bps: float,
    ):
        self.symbols = symbols
        self.columns = {symbol: col for col, symbol in enumerate(symbols)}
        self.open = arrays["open"]
        self.high = arrays["high"]
        self.low = arrays["low"]
        self.close = arrays["close"]
        close_ff = _forward_filled(self.close)
        previous_close = np.vstack([np.full((1, len(symbols)), np.nan), close_ff[:-1]])
        # Marks for equity: at a bar's open (last close where the symbol has no
        # bar) while filling, at the close afterwards; 0 before a symbol's
        # first bar, where no position can exist.
        self.mark_open = np.nan_to_num(np.where(np.isnan(self.open), previous_close, self.open))
        self.mark_close = np.nan_to_num(close_ff)
        self.commission = commission
        self.slippage = slippage_bps / 10_000.0
        self.cash = float(cash)
        self.pos = np.zeros(len(symbols))
        # Open lots per symbol, FIFO: [signed shares, entry price, entry bar, entry commission left].
        self.lots: list[deque[list[float]]] = [deque() for _ in symbols]
        self.pending: list[Order] = []
        self.orders: list[Order] = []
        self.t = 0
        # (bar, col, signed shares, price, commission, order id, tag)
        self.fills: list[tuple[int, int, int, float, float, int, str]] = []
        # (col, direction, entry bar, exit bar, entry price, exit price, shares, pnl, commission)
        self.closed: list[tuple[int, int, int, int, float, float, int, float, float]] = []
        self.cash_bars: list[int] = [0]
        self.cash_after: list[float] = [self.cash]
        # Pending stop-loss/take-profit orders per symbol (one OCO group each).
        self.exits: dict[int, list[Order]] = {}
        # Sum of shares x mark and |shares| x mark at the open of bar _marks_bar,
        # kept up to date through the bar's fills.
        self._marks_bar = -1
        self._net = 0.0
        self._gross = 0.0
        self._next_id = 1
        self._next_oco = 1

    # -- what the strategy sees -------------------------------------------

    def col(self, symbol: int | str) -> int:
        if isinstance(symbol, str):
            try:
                return self.columns[symbol]
            except KeyError:
                raise ValueError(f"unknown symbol {symbol!r}") from None
        col = int(symbol)
        if not 0 <= col < len(self.symbols):
            raise ValueError(f"symbol index {col} out of range 0..{len(self.symbols) - 1}")
        return col

    def position(self, col: int) -> int:
        return int(self.pos[col])

    def equity(self) -> float:
        """Cash plus positions marked to the current bar's close."""
        return self.cash + float(self.pos @ self.mark_close[self.t])

    def submit(
        self,
        col: int,
        side: int,
        *,
        sizing: Sizing,
        amount: float,
        limit: float | None = None,
        stop: float | None = None,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        tag: str = "",
    ) -> Order:
        if limit is not None and stop is not None:
            raise ValueError("an order takes a limit or a stop price, not both")
        order_type, price = _MARKET, math.nan
        if limit is not None:
            order_type, price = _LIMIT, _positive_price("limit", limit)
        elif stop is not None:
            order_type, price = _STOP, _positive_price("stop", stop)
        t = self.t
        order = Order(
            id=self._next_id,
            symbol=self.symbols[col],
            col=col,
            side=side,
            type=order_type,
            price=price,
            sizing=sizing,
            amount=amount,
            placed_bar=t,
            active_from=t + 1,
            tag=tag,
            stop_loss=math.nan if stop_loss is None else _positive_price("stop_loss", stop_loss),
            take_profit=math.nan if take_profit is None else _positive_price("take_profit", take_profit),
        )
        self._next_id += 1
        self.orders.append(order)
        if sizing == "equity" and amount <= 0.0:
            order.status, order.reason = OrderStatus.REJECTED, "the sizer gave no size"
        else:
            self.pending.append(order)
        return order

    def sized(self, col: int, size: Sizer | None) -> tuple[Sizing, float]:
        """Resolve a sizer against the symbol's closes up to the current bar."""
        spec = (size or AllIn()).resolve(self.close[: self.t + 1, col])
        return spec.kind, spec.value

    def cancel(self, order: Order, reason: str = "cancelled by the strategy") -> None:
        if order.status is _PENDING:
            order.status, order.reason = OrderStatus.CANCELLED, reason
            self.pending.remove(order)

    # -- fills ----------------------------------------------------------------

    def process_bar(self, t: int) -> None:
        """Fill the due orders against bar ``t`` (see FILL_RULES)."""
        self.t = t
        opens = self.open[t]
        fills_before = len(self.fills)
        market: list[Order] = []
        for order in self.pending:
            if order.type is _MARKET and order.active_from <= t and opens[order.col] == opens[order.col]:
                market.append(order)
        if market:
            self._fill_market(market, t, opens)
        priced: list[Order] = []
        for order in self.pending:
            if (
                order.type is not _MARKET
                and order.status is _PENDING
                and order.active_from <= t
                and opens[order.col] == opens[order.col]
            ):
                priced.append(order)
        if priced:
            self._fill_priced(priced, t, opens)
        if len(self.fills) != fills_before:
            self.cash_bars.append(t)
            self.cash_after.append(self.cash)
        self.pending[:] = [order for order in self.pending if order.status is _PENDING]

    def _fill_market(self, orders: list[Order], t: int, opens: np.ndarray) -> None:
        equity_at_open = None
        # (order, side, shares for a target order); reducing orders go first.
        first: list[tuple[Order, int, int]] = []
        then: list[tuple[Order, int, int]] = []
        for order in orders:
            held = self.pos[order.col]
            side, delta = order.side, 0
            if order.sizing == "target":
                if equity_at_open is None:
                    equity_at_open = self.cash + float(self.pos @ self.mark_open[t])
                goal = self.commission.max_shares(abs(order.amount) * equity_at_open, float(opens[order.col]))
                delta = int((goal if order.amount >= 0 else -goal) - held)
                if delta == 0:
                    order.status, order.reason = OrderStatus.CANCELLED, "already at target"
                    continue
                side = 1 if delta > 0 else -1
            elif order.sizing == "close":
                side = -1 if held > 0 else 1
            (first if order.sizing == "close" or held * side < 0 else then).append((order, side, abs(delta)))
        slip = self.slippage
        for order, side, target_shares in first + then:
            if order.sizing == "close" and self.pos[order.col] * side > 0:
                side = -side  # an earlier order of this bar reversed the position
            self._fill(order, side, float(opens[order.col]) * (1.0 + side * slip), t, target_shares)

    def _fill_priced(self, orders: list[Order], t: int, opens: np.ndarray) -> None:
        highs, lows = self.high[t], self.low[t]
        slip = self.slippage
        # Each candidate: (not at open, order id, order, side, fill price).
        candidates: list[tuple[bool, int, Order, int, float]] = []
        for order in orders:
            col = order.col
            side = order.side
            if order.sizing == "close":
                held = self.pos[col]
                if held == 0:
                    order.status, order.reason = OrderStatus.CANCELLED, "no position to close"
                    continue
                side = -1 if held > 0 else 1
            o, level = float(opens[col]), order.price
            if order.type is _LIMIT:
                if side > 0:
                    if lows[col] > level:
                        continue
                    at_open, price = o <= level, min(o, level)
                else:
                    if highs[col] < level:
                        continue
                    at_open, price = o >= level, max(o, level)
            else:
                if side > 0:
                    if highs[col] < level:
                        continue
                    at_open, price = o >= level, max(o, level) * (1.0 + slip)
                else:
                    if lows[col] > level:
                        continue
                    at_open, price = o <= level, min(o, level) * (1.0 - slip)
            candidates.append((not at_open, order.id, order, side, price))
        if not candidates:
            return
        chosen: dict[int, tuple[bool, int, Order, int, float]] = {}
        alone: list[tuple[bool, int, Order, int, float]] = []
        for candidate in candidates:
            group = candidate[2].oco
            if not group:
                alone.append(candidate)
            elif group not in chosen or _worse(candidate, chosen[group]):
                chosen[group] = candidate
        for _, _, order, side, price in sorted(alone + list(chosen.values()), key=lambda c: (c[0], c[1])):
            if order.status is _PENDING:
                self._fill(order, side, price, t)

    def _fill(self, order: Order, side: int, price: float, t: int, target_shares: int = 0) -> None:
        """Size, check and execute ``order`` at ``price`` on bar ``t``.

        ``target_shares`` is the move a target order needs, computed at the open.
        """
        col = order.col
        held = float(self.pos[col])
        commission = self.commission
        if order.sizing == "close":
            shares = int(abs(held))
            if shares == 0:
                order.status, order.reason = OrderStatus.CANCELLED, "no position to close"
                return
        else:
            equity, buying_power = self._equity_and_buying_power(col, price, t)
            if order.sizing == "equity":
                budget = min(order.amount * equity, buying_power)
                shares = commission.max_shares(budget, price)
            elif order.sizing == "target":
                # Whatever closes an opposite position always fills; what opens
                # a new one is capped by the buying power before the close.
                shares = target_shares
                closing = min(shares, int(abs(held))) if held * side < 0 else 0
                if shares > closing:
                    shares = closing + min(shares - closing, commission.max_shares(buying_power, price))
            else:
                shares = int(order.amount)
                opening = shares - min(shares, int(abs(held))) if held * side < 0 else shares
                if opening > 0 and not self._affordable(col, side, shares, price, held, buying_power):
                    order.status, order.reason = OrderStatus.REJECTED, "insufficient buying power"
                    return
            if shares <= 0:
                order.status, order.reason = OrderStatus.REJECTED, "insufficient buying power"
                return
        fee = commission.cost(shares, price)
        self.cash -= side * shares * price + fee
        new = held + side * shares
        self.pos[col] = new
        if self._marks_bar == t:
            mark = float(self.mark_open[t, col])
            self._net += (new - held) * mark
            self._gross += (abs(new) - abs(held)) * mark
        self._book(col, side, shares, price, fee, t)
        self.fills.append((t, col, side * shares, price, fee, order.id, order.tag))
        order.status = OrderStatus.FILLED
        if held != 0 and (new == 0 or (new > 0) != (held > 0)) and col in self.exits:
            reason = "the other order of its OCO pair filled" if order.contingent else "its position was closed"
            for exit_order in self.exits.pop(col):
                if exit_order.status is _PENDING:
                    exit_order.status, exit_order.reason = OrderStatus.CANCELLED, reason
        if new * side > 0 and (order.stop_loss == order.stop_loss or order.take_profit == order.take_profit):
            self._attach_exits(order, -side, t if order.type is _MARKET else t + 1)

    def _equity_and_buying_power(self, col: int, price: float, t: int) -> tuple[float, float]:
        if self._marks_bar != t:
            marks = self.mark_open[t]
            self._net = float(self.pos @ marks)
            self._gross = float(np.abs(self.pos) @ marks)
            self._marks_bar = t
        held = float(self.pos[col])
        move = price - float(self.mark_open[t, col])
        equity = self.cash + self._net + held * move
        return equity, equity - (self._gross + abs(held) * move)

    def _affordable(self, col: int, side: int, shares: int, price: float, held: float, buying_power: float) -> bool:
        """Whether the buying power stays >= 0 after the fill (the symbol marked at ``price``)."""
        new = held + side * shares
        cash_change = -side * shares * price - self.commission.cost(shares, price)
        after = buying_power + cash_change + (new - held) * price - (abs(new) - abs(held)) * price
        return after >= -1e-9 * max(1.0, abs(self.cash))

    def _attach_exits(self, parent: Order, side: int, active_from: int) -> None:
        group = self._next_oco
        self._next_oco += 1
        exits = self.exits.setdefault(parent.col, [])
        for order_type, level in ((_STOP, parent.stop_loss), (_LIMIT, parent.take_profit)):
            if level != level:
                continue
            child = Order(
                id=self._next_id,
                symbol=parent.symbol,
                col=parent.col,
                side=side,
                type=order_type,
                price=level,
                sizing="close",
                amount=0.0,
                placed_bar=parent.placed_bar,
                active_from=active_from,
                tag=parent.tag,
                oco=group,
                contingent=True,
            )
            self._next_id += 1
            self.orders.append(child)
            self.pending.append(child)
            exits.append(child)

    def _book(self, col: int, side: int, shares: int, price: float, fee: float, t: int) -> None:
        """Close open lots FIFO, then open a lot with what is left."""
        lots = self.lots[col]
        left = shares
        while left and lots and lots[0][0] * side < 0:
            lot = lots[0]
            lot_shares = abs(lot[0])
            take = min(left, lot_shares)
            direction = 1 if lot[0] > 0 else -1
            entry_fee = lot[3] * take / lot_shares
            exit_fee = fee * take / shares
            pnl = direction * (price - lot[1]) * take - entry_fee - exit_fee
            self.closed.append((col, direction, int(lot[2]), t, lot[1], price, int(take), pnl, entry_fee + exit_fee))
            if take == lot_shares:
                lots.popleft()
            else:
                lot[0] -= direction * take
                lot[3] -= entry_fee
            left -= take
        if left:
            lots.append([float(side * left), price, float(t), fee * left / shares])

    def cancel_all(self, reason: str) -> None:
        for order in self.pending:
            order.status, order.reason = OrderStatus.CANCELLED, reason
        self.pending.clear()


def _positive_price(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} price must be a positive number, got {value!r}")
    return value


def _worse(a: tuple[bool, int, Order, int, float], b: tuple[bool, int, Order, int, float]) -> bool:
    """Whether candidate fill ``a`` should win over ``b`` in one OCO group (FILL_RULES 6)."""
    if a[0] != b[0]:
        return not a[0]  # reached at the open: it filled first
    return a[3] * a[4] > b[3] * b[4]  # buy: higher price is worse; sell: lower


class Backtest:
    """One strategy over one panel (a universe of symbols in one portfolio).

    ``progress``, when given, is called with the fraction of bars done (0..1)
    about a hundred times during the run. ``fast_path=False`` calls
    ``on_bar`` on every bar even if the strategy declared ``wake_on`` bars;
    it exists to check that both paths give the same fills.
    ``benchmark_returns`` and ``risk_free_rate`` feed ``compute_metrics``.
    A plain number for ``commission`` is a rate (fraction of notional);
    numbers may be ``Decimal`` (as stored in the database).
    """

    def __init__(
        self,
        panel: Mapping[str, pd.DataFrame],
        strategy: Strategy,
        *,
        initial_capital: float = 10_000.0,
        commission: CommissionModel | float = CommissionModel(),
        slippage_bps: float = 0.0,
        progress: Callable[[float], None] | None = None,
        fast_path: bool = True,
        benchmark_returns: pd.Series | None = None,
        risk_free_rate: float = 0.0,
    ):
        self.index, self.symbols = _check_panel(panel)
        self.panel = panel
        if not (math.isfinite(initial_capital) and initial_capital > 0):
            raise ValueError(f"initial_capital must be > 0, got {initial_capital!r}")
        if not (math.isfinite(slippage_bps) and 0 <= slippage_bps < 10_000):
            raise ValueError(f"slippage_bps must be in [0, 10000), got {slippage_bps!r}")
        self.strategy = strategy
        self.initial_capital = float(initial_capital)
        self.commission = (
            commission if isinstance(commission, CommissionModel) else CommissionModel(rate=float(commission))
        )
        self.slippage_bps = float(slippage_bps)
        self.progress = progress
        self.fast_path = fast_path
        self.benchmark_returns = benchmark_returns
        self.risk_free_rate = risk_free_rate

    def run(self) -> BacktestResult:
        with _cyclic_gc_paused():
            return self._run()

    def _run(self) -> BacktestResult:
        started = time.perf_counter()
        index, symbols = self.index, self.symbols
        n = len(index)
        arrays = {name: _read_only(self.panel[name]) for name in FIELDS}
        data = Data(arrays, index, symbols)
        broker = Broker(
            arrays=arrays,
            symbols=symbols,
            cash=self.initial_capital,
            commission=self.commission,
            slippage_bps=self.slippage_bps,
        )
        strategy = self.strategy
        strategy._bind(broker, data)
        broker.t = n - 1
        strategy.init(data)
        _refuse_stashed_history(strategy, n)
        wake = data._wake
        bars = np.flatnonzero(wake).tolist() if (self.fast_path and wake is not None) else range(n)
        strategy._in_init = False
        self._loop(strategy, broker, data, bars, n)
        broker.cancel_all("still pending at the end of the data")
        if self.progress is not None:
            self.progress(1.0)
        return self._result(broker, strategy, time.perf_counter() - started)

    def _loop(self, strategy: Strategy, broker: Broker, data: Data, bars: list[int] | range, n: int) -> None:
        """Visit the wake bars, plus every bar while orders are pending."""
        on_bar = strategy.on_bar
        process = broker.process_bar
        pending = broker.pending
        progress = self.progress
        step = max(1, n // 100)
        next_report = step
        n_wake = len(bars)
        k = 0
        t = bars[0] if n_wake else n
        while t < n:
            if pending:
                process(t)
            if k < n_wake and bars[k] == t:
                k += 1
                broker.t = t
                data._t = t
                on_bar(data)
            if progress is not None and t >= next_report:
                progress(t / n)
                next_report = t + step
            if pending:
                t += 1
            elif k < n_wake:
                t = bars[k]
            else:
                break
        data._t = n - 1
        broker.t = n - 1

    def _result(self, broker: Broker, strategy: Strategy, elapsed: float) -> BacktestResult:
        index, symbols = self.index, self.symbols
        n, n_symbols = len(index), len(symbols)
        equity, exposed = _equity_from_fills(broker, n, n_symbols)
        equity_series = pd.Series(equity, index=index, name="equity")
        drawdown = pd.Series(equity / np.maximum.accumulate(equity) - 1.0, index=index, name="drawdown")
        exposure = pd.Series(exposed, index=index, name="exposure")
        last = n - 1

        def dates(bars: list[int]) -> list[datetime.date]:
            return list(index.take(np.asarray(bars, dtype=np.int64)).date)

        closed = broker.closed
        trades = [
            Trade(
                symbol=symbols[col],
                direction="long" if direction > 0 else "short",
                entry_bar=entry_bar,
                exit_bar=exit_bar,
                entry_date=entry_date,
                exit_date=exit_date,
                entry_price=entry_price,
                exit_price=exit_price,
                quantity=shares,
                pnl=pnl,
                return_pct=pnl / (entry_price * shares),
                commission=fee,
            )
            for (
                col,
                direction,
                entry_bar,
                exit_bar,
                entry_price,
                exit_price,
                shares,
                pnl,
                fee,
            ), entry_date, exit_date in zip(
                closed, dates([trade[2] for trade in closed]), dates([trade[3] for trade in closed]), strict=True
            )
        ]
        last_date = index[last].date()
        open_trades = []
        for col, lots in enumerate(broker.lots):
            mark = float(broker.mark_close[last, col])
            for signed, entry_price, entry_bar, entry_fee in lots:
                shares = int(abs(signed))
                direction = 1 if signed > 0 else -1
                pnl = direction * (mark - entry_price) * shares - entry_fee
                open_trades.append(
                    OpenTrade(
                        symbol=symbols[col],
                        direction="long" if direction > 0 else "short",
                        entry_bar=int(entry_bar),
                        entry_date=index[int(entry_bar)].date(),
                        entry_price=entry_price,
                        quantity=shares,
                        last_date=last_date,
                        last_price=mark,
                        unrealized_pnl=pnl,
                        return_pct=pnl / (entry_price * shares),
                        commission=entry_fee,
                        bars_held=last - int(entry_bar),
                    )
                )
        fills = [
            Fill(
                order_id=order_id,
                bar=bar,
                date=date,
                symbol=symbols[col],
                side="buy" if signed > 0 else "sell",
                quantity=abs(signed),
                price=price,
                commission=fee,
                tag=tag,
            )
            for (bar, col, signed, price, fee, order_id, tag), date in zip(
                broker.fills, dates([fill[0] for fill in broker.fills]), strict=True
            )
        ]
        metrics = compute_metrics(
            equity_series,
            trades,
            benchmark_returns=self.benchmark_returns,
            risk_free_rate=self.risk_free_rate,
            exposure=exposure,
        )
        return BacktestResult(
            strategy_id=strategy.id,
            params=strategy.params_dict(),
            symbols=list(symbols),
            initial_capital=self.initial_capital,
            equity=equity_series,
            drawdown=drawdown,
            exposure=exposure,
            trades=trades,
            open_trades=open_trades,
            fills=fills,
            orders=broker.orders,
            metrics=metrics,
            elapsed_seconds=elapsed,
            benchmark=self._benchmark_equity(index),
        )

    def _benchmark_equity(self, index: pd.DatetimeIndex) -> pd.Series | None:
        """The benchmark bought with the initial capital at the first bar's close, on the run's dates."""
        if self.benchmark_returns is None:
            return None
        returns = self.benchmark_returns.astype(float).reindex(index).fillna(0.0)
        returns.iloc[0] = 0.0
        return (self.initial_capital * (1.0 + returns).cumprod()).rename("benchmark")


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the length of a run.

    A run allocates hundreds of thousands of small objects (orders, fill and
    trade records) that all stay alive, so the collector keeps re-scanning a
    growing heap for nothing: 30-40 % of the run time. Nothing the engine
    builds forms a reference cycle, so reference counting frees all the
    garbage anyway.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _equity_from_fills(broker: Broker, n: int, n_symbols: int) -> tuple[np.ndarray, np.ndarray]:
    """Equity at every close and whether a position was held, rebuilt from the fills.

    Positions are whole numbers, so their running sums are exact; cash is
    the broker's own balance after each bar with fills.
    """
    cash_bars = np.asarray(broker.cash_bars)
    cash = np.asarray(broker.cash_after)[np.searchsorted(cash_bars, np.arange(n), side="right") - 1]
    if broker.fills:
        fill_bars, fill_cols, fill_shares = (np.asarray(column) for column in list(zip(*broker.fills, strict=True))[:3])
    else:
        fill_bars = fill_cols = fill_shares = np.zeros(0, dtype=np.int64)
    equity = np.empty(n)
    exposed = np.empty(n, dtype=bool)
    held = np.zeros(n_symbols)
    chunk = max(1, 2_000_000 // n_symbols)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        changes = np.zeros((stop - start, n_symbols))
        in_chunk = (fill_bars >= start) & (fill_bars < stop)
        np.add.at(changes, (fill_bars[in_chunk] - start, fill_cols[in_chunk]), fill_shares[in_chunk])
        positions = held + np.cumsum(changes, axis=0)
        held = positions[-1]
        equity[start:stop] = cash[start:stop] + (positions * broker.mark_close[start:stop]).sum(axis=1)
        exposed[start:stop] = (positions != 0).any(axis=1)
    return equity, exposed


def _refuse_stashed_history(strategy: Strategy, n: int) -> None:
    """Refuse a strategy that kept full-length arrays as attributes after ``init``.

    Such an array would let ``on_bar`` read bars after the current one;
    indicators must be registered with ``Strategy.indicator``, which serves them only
    up to the current bar.
    """
    if n < 2:
        return
    for name, value in vars(strategy).items():
        if isinstance(value, (np.ndarray, pd.Series, pd.DataFrame)) and value.ndim and value.shape[0] == n:
            raise StrategyError(
                f"{type(strategy).__name__}.{name} holds the whole history ({n} bars); register it with "
                f"self.indicator({name!r}, ...) and read it in on_bar as data[{name!r}], which ends at the current bar"
            )
