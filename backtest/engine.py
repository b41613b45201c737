"""Event-driven backtest engine: a pure Python/numpy core (no Django).

Per bar: the broker fills the orders placed on earlier bars against this bar
(``Broker.process_bar``), the portfolio is marked, then the strategy sees the
data up to and including this bar (``Strategy.on_bar``) and may place orders,
which can fill from the next bar on. Indicators are computed once, vectorized,
in ``Strategy.init`` and registered with ``Strategy.indicator`` so that ``on_bar``
only ever sees them up to the current bar.

Speed: the broker keeps its orders as plain records and its positions as
plain floats, and what follows from the fills is computed afterwards with
numpy: the equity curve between fills and the trades (FIFO, ``_fifo``). A
strategy may declare, in ``init``, the bars on which it can act
(``Strategy.wake_on``): the loop then visits only those bars and the bars on
which orders are pending. Or it may declare what ``on_bar`` does as tables of
actions by position held (``Strategy.act_by_position``, as the built-in
strategies do): the engine then places and fills those market orders in one
loop over plain numbers without calling ``on_bar`` (``_run_one_symbol_tables``,
``_run_action_tables``). Either way the orders, fills and equity are exactly
those of a run that calls ``on_bar`` on every bar through the broker
(``Backtest(..., fast_path=False)``); tests/backtest hold them to that. The
result's trade, fill and order objects are built when first read.
"""

from __future__ import annotations

import datetime
import gc
import itertools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from backtest.metrics import compute_metrics
from backtest.result import VOLUME_CAP, BacktestResult, Fill, OpenTrade, Trade
from backtest.sizing import AllIn, FixedShares, FractionOfEquity, Sizer

if TYPE_CHECKING:
    from backtest.strategies.base import Strategy

FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")
MAX_SPREAD = 0.1
"""The widest spread a run accepts, as a fraction of the price (10 %)."""

FILL_RULES = """\
Fill rules of the backtest engine (backtest/engine.py):

1. Timing. Orders placed while the strategy handles bar t can fill from bar
   t+1 on. The strategy sees data up to and including bar t only: its arrays
   are read-only views that end at bar t, indicators included.
2. Market orders fill at the open of the symbol's next bar, plus half the
   spread and slippage against the trader. The bar's prices are mid prices:
   a buy pays the ask, price x (1 + spread/2), a sell gets the bid,
   price x (1 - spread/2), so a round trip pays the whole spread once. Then
   slippage: buys at open x (1 + spread/2) x (1 + bps/10,000), sells at
   open x (1 - spread/2) x (1 - bps/10,000). A symbol with no bar (NaN) on a
   date fills nothing on that date; its orders wait for its next bar.
3. Market orders due on the same bar fill in this sequence: orders that
   reduce or close a position first (that frees cash), then the others, each
   group in the order placed. Stop and limit orders are handled after them.
   A close order sells or covers whatever position is held when it fills,
   and is cancelled if there is none.
4. Limit orders fill when the bar's ask (buy) or bid (sell) reaches the
   limit (buy: low x (1 + spread/2) <= limit; sell: high x (1 - spread/2) >=
   limit), at the limit, or at the open's ask or bid when that is beyond it
   (a better price). No slippage on limit fills.
5. Stop orders trigger when the bar's range reaches the stop (buy: high >=
   stop; sell: low <= stop) and fill at the stop, or at the open when the bar
   gaps through it (a worse price), plus half the spread and slippage as a
   market order.
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
12. Volume cap (max_volume_fraction f, off by default). The fills of one
   symbol on one bar add up to at most floor(f x the bar's volume) shares;
   no volume (NaN) allows none. Fills take the room in the order of rule 3.
   A fill that would exceed it is cut to what is left; the order is then
   filled in part, and the rest of it is cancelled (an order lives for the
   bar it fills on: the strategy sees the position it got and may order
   again). Its reason says so: "volume cap: filled 1,000 of 2,500 shares
   (10% of the bar's volume of 10,000); the other 1,500 cancelled"; an order
   cut to nothing is cancelled. Stop-loss and take-profit orders are the
   exception: what they could not close stays pending, so the position
   stays protected. The cap applies after sizing: an all-in order cut by
   it leaves cash unspent.
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
_FILLED = OrderStatus.FILLED
_CANCELLED = OrderStatus.CANCELLED
_REJECTED = OrderStatus.REJECTED

# The broker keeps each order as a plain list (a record), laid out as below;
# ``Order`` is a live, read-only view of one. Records cost a fraction of an
# object with seventeen attributes, and a long run places hundreds of
# thousands of orders.
ORDER_FIELDS: tuple[str, ...] = (
    "id",
    "symbol",
    "col",
    "side",
    "type",
    "price",
    "sizing",
    "amount",
    "placed_bar",
    "active_from",
    "tag",
    "stop_loss",
    "take_profit",
    "oco",
    "contingent",
    "status",
    "reason",
)
(
    _ID,
    _SYMBOL,
    _COL,
    _SIDE,
    _TYPE,
    _PRICE,
    _SIZING,
    _AMOUNT,
    _PLACED,
    _ACTIVE,
    _TAG,
    _STOP_LOSS,
    _TAKE_PROFIT,
    _OCO,
    _CONTINGENT,
    _STATUS,
    _REASON,
) = range(len(ORDER_FIELDS))


def _field(index: int) -> property:
    return property(lambda order: order._record[index])


class Order:
    """An order as the simulated broker holds it (a live view: its status and reason change as it fills).

    ``side`` is +1 (buy) or -1 (sell); 0 for close and target orders until
    the position they act on is known. ``sizing`` says what ``amount`` is:
    "shares" (a share count), "equity" (a fraction of equity), "target" (a
    target fraction of equity) or "close" (the whole position, amount 0).
    ``price`` is the limit or stop price (NaN for a market order);
    ``stop_loss`` / ``take_profit`` are the exits attached to it (NaN: none);
    ``oco`` numbers the one-cancels-other group of a ``contingent`` exit.
    """

    __slots__ = ("_record",)

    id: int = _field(_ID)
    symbol: str = _field(_SYMBOL)
    col: int = _field(_COL)
    side: int = _field(_SIDE)
    type: OrderType = _field(_TYPE)
    price: float = _field(_PRICE)
    sizing: Sizing = _field(_SIZING)
    amount: float = _field(_AMOUNT)
    placed_bar: int = _field(_PLACED)
    active_from: int = _field(_ACTIVE)
    tag: str = _field(_TAG)
    stop_loss: float = _field(_STOP_LOSS)
    take_profit: float = _field(_TAKE_PROFIT)
    oco: int = _field(_OCO)
    contingent: bool = _field(_CONTINGENT)
    status: OrderStatus = _field(_STATUS)
    reason: str = _field(_REASON)

    def __init__(self, record: list[Any]):
        self._record = record

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Order) and other._record is self._record

    def __hash__(self) -> int:
        return id(self._record)

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in zip(ORDER_FIELDS, self._record, strict=True))
        return f"Order({fields})"


class Act(IntEnum):
    """What ``on_bar`` does for one symbol on one bar, in ``Strategy.act_by_position`` tables.

    Each order is a market order, as ``Strategy.buy(col, size=size)``,
    ``Strategy.sell(col, size=size)`` and ``Strategy.close(col)`` place it;
    ``CLOSE_AND_BUY`` closes the position and then buys (a reversal).
    """

    NONE = 0
    BUY = 1
    SELL = 2
    CLOSE = 3
    CLOSE_AND_BUY = 4
    CLOSE_AND_SELL = 5


_CLOSE_ACT = int(Act.CLOSE)
# The side of the sized order each action places after its close, if any (0: none).
_SIDE_OF_ACT = (0, 1, -1, 0, 1, -1)


@dataclass(frozen=True, slots=True)
class ActionTables:
    """``on_bar`` as arrays (see ``Strategy.act_by_position``): ``(bars, symbols)`` ``Act`` codes by position held."""

    flat: np.ndarray
    long: np.ndarray
    short: np.ndarray
    size: Sizer
    tag: str


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

    __slots__ = ("_actions", "_arrays", "_t", "_wake", "index", "symbols")

    def __init__(self, arrays: dict[str, np.ndarray], index: pd.DatetimeIndex, symbols: tuple[str, ...]):
        self._arrays = arrays
        self._t = len(index) - 1
        self._wake: np.ndarray | None = None
        self._actions: ActionTables | None = None
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

    def _act_by_position(self, tables: dict[str, Any], size: Sizer, tag: str) -> None:
        if self._actions is not None:
            raise ValueError("act_by_position() is called once, with every table")
        shape = (len(self.index), len(self.symbols))
        codes = {}
        for name, table in tables.items():
            array = np.zeros(shape, dtype=np.int8) if table is None else np.asarray(table)
            if array.shape != shape:
                raise ValueError(f"act_by_position {name} table has shape {array.shape}; expected {shape}")
            if array.dtype.kind not in "iub" or (array.size and not (array.min() >= 0 and array.max() <= max(Act))):
                raise ValueError(f"act_by_position {name} table holds codes that are not Act values")
            codes[name] = array.astype(np.int8)
        self._actions = ActionTables(size=size, tag=tag, **codes)

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


class FillLog:
    """Every fill of a run, one list per field.

    The lists become numpy arrays at once for the trades and the equity
    curve. A log can also be made from arrays (``from_arrays``), its lists
    then built when read. A fill's tag is its order's, or ``tag`` when every
    order has the same.
    """

    __slots__ = ("_arrays", "bar", "col", "fee", "order_id", "price", "shares", "tag")

    def __init__(self) -> None:
        self.bar: list[int] = []
        self.col: list[int] = []
        self.shares: list[int] = []
        self.price: list[float] = []
        self.fee: list[float] = []
        self.order_id: list[int] = []
        self._arrays: tuple[np.ndarray, ...] | None = None
        self.tag: str | None = None

    @classmethod
    def from_arrays(cls, *columns: np.ndarray, tag: str) -> FillLog:
        """A log of bar, col, signed shares, price, commission and order id given as arrays."""
        log = cls()
        log._arrays = columns
        log.tag = tag
        return log

    def __len__(self) -> int:
        return len(self.bar) if self._arrays is None else len(self._arrays[0])

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """bar, col, signed shares, price, commission and order id as arrays (shares as floats)."""
        if self._arrays is None:
            return (
                np.array(self.bar, dtype=np.int64),
                np.array(self.col, dtype=np.int64),
                np.array(self.shares, dtype=float),
                np.array(self.price, dtype=float),
                np.array(self.fee, dtype=float),
                np.array(self.order_id, dtype=np.int64),
            )
        bar, col, shares, price, fee, order_id = self._arrays
        return bar, col, shares.astype(float), price, fee, order_id

    def columns(self) -> tuple[list[int], list[int], list[int], list[float], list[float], list[int]]:
        """bar, col, signed shares, price, commission and order id as lists of Python numbers."""
        if self._arrays is None:
            return self.bar, self.col, self.shares, self.price, self.fee, self.order_id
        return tuple(values.tolist() for values in self._arrays)  # type: ignore[return-value]


class Broker:
    """The simulated broker and the portfolio it keeps (cash and positions).

    Strategies reach it through ``Strategy.buy/sell/close/...``; the engine
    calls ``process_bar`` once per visited bar before the strategy runs.
    Positions are plain floats (whole numbers of shares) and orders plain
    records (see ``ORDER_FIELDS``), so the per-fill work is Python arithmetic.
    """

    def __init__(
        self,
        *,
        arrays: dict[str, np.ndarray],
        symbols: tuple[str, ...],
        cash: float,
        commission: CommissionModel,
        slippage_bps: float,
        spread: float = 0.0,
        max_volume_fraction: float | None = None,
    ):
        self.symbols = symbols
        self.columns = {symbol: col for col, symbol in enumerate(symbols)}
        self.open = arrays["open"]
        self.high = arrays["high"]
        self.low = arrays["low"]
        self.close = arrays["close"]
        # Marks for equity: at a bar's open (last close where the symbol has no
        # bar) while filling, at the close afterwards; 0 before a symbol's
        # first bar, where no position can exist. Without gaps, the prices themselves.
        if np.isfinite(self.open).all() and np.isfinite(self.close).all():
            self.mark_open, self.mark_close = self.open, self.close
        else:
            close_ff = _forward_filled(self.close)
            previous_close = np.vstack([np.full((1, len(symbols)), np.nan), close_ff[:-1]])
            self.mark_open = np.nan_to_num(np.where(np.isnan(self.open), previous_close, self.open))
            self.mark_close = np.nan_to_num(close_ff)
        self.commission = commission
        self.slippage = slippage_bps / 10_000.0
        # A buy pays the ask, a sell gets the bid (half the spread from the bar's price), then slippage.
        half_spread = spread / 2.0
        self.buy_factor = (1.0 + half_spread) * (1.0 + self.slippage)
        self.sell_factor = (1.0 - half_spread) * (1.0 - self.slippage)
        self.ask_factor, self.bid_factor = 1.0 + half_spread, 1.0 - half_spread
        # The volume cap (FILL_RULES 12): the most shares each bar lets fill per symbol, and what
        # this bar's fills have used of it so far; None without a cap.
        self.max_volume_fraction = max_volume_fraction
        self.volume = arrays["volume"]
        self.volume_room = None if max_volume_fraction is None else _volume_room(self.volume, max_volume_fraction)
        self._room_bar = -1
        self._room_used: dict[int, int] = {}
        self.cash = float(cash)
        # Signed shares per symbol, as floats.
        self.pos: list[float] = [0.0] * len(symbols)
        self._one_symbol = len(symbols) == 1
        # Order records (ORDER_FIELDS): every order in the order placed, and those still pending.
        self.orders: list[list[Any]] | LazyList = []
        self.pending: list[list[Any]] = []
        self.t = 0
        # Trades and lots come from the fills (_fifo).
        self.fills = FillLog()
        # The cash after each bar with fills (bar 0: the initial cash); lists, or arrays once a run is rebuilt.
        self.cash_bars: list[int] | np.ndarray = [0]
        self.cash_after: list[float] | np.ndarray = [self.cash]
        # Pending stop-loss/take-profit records per symbol (one OCO group each).
        self.exits: dict[int, list[list[Any]]] = {}
        # Sum of shares x mark and |shares| x mark at the open of bar _marks_bar,
        # kept up to date through the bar's fills.
        self._marks_bar = -1
        self._net = 0.0
        self._gross = 0.0
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
        return self.cash + self._marked(self.mark_close, self.t)[0]

    def pending_orders(self, col: int | None = None) -> list[Order]:
        return [Order(record) for record in self.pending if col is None or record[_COL] == col]

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
        record = self.place(
            col,
            side,
            sizing,
            amount,
            tag,
            order_type,
            price,
            math.nan if stop_loss is None else _positive_price("stop_loss", stop_loss),
            math.nan if take_profit is None else _positive_price("take_profit", take_profit),
        )
        return Order(record)

    def place(
        self,
        col: int,
        side: int,
        sizing: Sizing,
        amount: float,
        tag: str,
        order_type: OrderType = _MARKET,
        price: float = math.nan,
        stop_loss: float = math.nan,
        take_profit: float = math.nan,
    ) -> list[Any]:
        """Record an order placed on the current bar (arguments already checked); return its record."""
        t = self.t
        record = [
            len(self.orders) + 1,
            self.symbols[col],
            col,
            side,
            order_type,
            price,
            sizing,
            amount,
            t,
            t + 1,
            tag,
            stop_loss,
            take_profit,
            0,
            False,
            _PENDING,
            "",
        ]
        self.orders.append(record)
        if sizing == "equity" and amount <= 0.0:
            record[_STATUS], record[_REASON] = _REJECTED, "the sizer gave no size"
        else:
            self.pending.append(record)
        return record

    def sized(self, col: int, size: Sizer | None) -> tuple[Sizing, float]:
        """Resolve a sizer against the symbol's closes up to the current bar."""
        spec = (size or AllIn()).resolve(self.close[: self.t + 1, col])
        return spec.kind, spec.value

    def cancel(self, order: Order, reason: str = "cancelled by the strategy") -> None:
        record = order._record
        if record[_STATUS] is _PENDING:
            record[_STATUS], record[_REASON] = _CANCELLED, reason
            # In place: the engine's loop holds this list.
            self.pending[:] = [other for other in self.pending if other is not record]

    # -- fills ----------------------------------------------------------------

    def process_bar(self, t: int) -> None:
        """Fill the due orders against bar ``t`` (see FILL_RULES)."""
        self.t = t
        opens = self.open
        pending = self.pending
        fills_before = len(self.fills.bar)
        market: list[list[Any]] = []
        priced_waiting = False
        for order in pending:
            if order[_TYPE] is _MARKET:
                if order[_ACTIVE] <= t:
                    price = opens.item(t, order[_COL])
                    if price == price:  # not NaN: the symbol has a bar
                        market.append(order)
            else:
                priced_waiting = True
        if market:
            waiting = len(pending)
            self._fill_market(market, t)
            # Exits attached to an entry filled just now are live on this bar.
            priced_waiting = priced_waiting or len(pending) != waiting
        priced: list[list[Any]] = []
        if priced_waiting:
            for order in pending:
                if (
                    order[_TYPE] is not _MARKET
                    and order[_STATUS] is _PENDING
                    and order[_ACTIVE] <= t
                    and opens.item(t, order[_COL]) == opens.item(t, order[_COL])
                ):
                    priced.append(order)
            if priced:
                self._fill_priced(priced, t)
        if len(self.fills.bar) != fills_before:
            self.cash_bars.append(t)
            self.cash_after.append(self.cash)
        if market or priced:
            pending[:] = [order for order in pending if order[_STATUS] is _PENDING]

    def _fill_market(self, orders: list[list[Any]], t: int) -> None:
        """Fill the due market orders at this bar's open: reducing orders first (FILL_RULES 2-3)."""
        pos = self.pos
        equity_at_open = None
        # (order, side, None: at the open, shares for a target order).
        first: list[tuple[list[Any], int, float | None, int]] = []
        then: list[tuple[list[Any], int, float | None, int]] = []
        for order in orders:
            col = order[_COL]
            held = pos[col]
            side, delta, sizing = order[_SIDE], 0, order[_SIZING]
            if sizing == "target":
                if equity_at_open is None:
                    equity_at_open = self.cash + self._marked(self.mark_open, t)[0]
                goal = self.commission.max_shares(abs(order[_AMOUNT]) * equity_at_open, self.open.item(t, col))
                delta = int((goal if order[_AMOUNT] >= 0 else -goal) - held)
                if delta == 0:
                    order[_STATUS], order[_REASON] = _CANCELLED, "already at target"
                    continue
                side = 1 if delta > 0 else -1
            elif sizing == "close":
                side = -1 if held > 0 else 1
            (first if sizing == "close" or held * side < 0 else then).append((order, side, None, abs(delta)))
        self._execute(first + then if first and then else first or then, t)

    def _fill_priced(self, orders: list[list[Any]], t: int) -> None:
        opens, highs, lows = self.open, self.high, self.low
        buy_factor, sell_factor = self.buy_factor, self.sell_factor
        ask, bid = self.ask_factor, self.bid_factor
        # Each candidate: (not at open, order id, order, side, fill price).
        candidates: list[tuple[bool, int, list[Any], int, float]] = []
        for order in orders:
            col = order[_COL]
            side = order[_SIDE]
            if order[_SIZING] == "close":
                held = self.pos[col]
                if held == 0:
                    order[_STATUS], order[_REASON] = _CANCELLED, "no position to close"
                    continue
                side = -1 if held > 0 else 1
            o, level = opens.item(t, col), order[_PRICE]
            if order[_TYPE] is _LIMIT:
                # Against the ask (buy) or the bid (sell) of the bar's prices.
                if side > 0:
                    if lows.item(t, col) * ask > level:
                        continue
                    o *= ask
                    at_open, price = o <= level, min(o, level)
                else:
                    if highs.item(t, col) * bid < level:
                        continue
                    o *= bid
                    at_open, price = o >= level, max(o, level)
            else:
                if side > 0:
                    if highs.item(t, col) < level:
                        continue
                    at_open, price = o >= level, max(o, level) * buy_factor
                else:
                    if lows.item(t, col) > level:
                        continue
                    at_open, price = o <= level, min(o, level) * sell_factor
            candidates.append((not at_open, order[_ID], order, side, price))
        if not candidates:
            return
        chosen: dict[int, tuple[bool, int, list[Any], int, float]] = {}
        alone: list[tuple[bool, int, list[Any], int, float]] = []
        for candidate in candidates:
            group = candidate[2][_OCO]
            if not group:
                alone.append(candidate)
            elif group not in chosen or _worse(candidate, chosen[group]):
                chosen[group] = candidate
        ranked = sorted(alone + list(chosen.values()), key=lambda c: (c[0], c[1]))
        self._execute([(order, side, price, 0) for _, _, order, side, price in ranked], t)

    def _execute(self, due: list[tuple[list[Any], int, float | None, int]], t: int) -> None:
        """Size, check and execute the fills of bar ``t``, in sequence.

        Each item is (order, side, price, shares for a target order). A price
        of None is a market fill: this bar's open plus half the spread and
        slippage, and a close order turns around if an earlier fill of this
        bar reversed the position. The volume cap, if any, cuts each fill to
        what the bar has left for the symbol. Every fill of every run passes
        here, so the helpers it needs are written out in it and the broker's
        numbers are locals.
        """
        pos, exits = self.pos, self.exits
        fills = self.fills
        opens, mark_open = self.open, self.mark_open
        side_factor = (1.0, self.buy_factor, self.sell_factor)  # by side: [1] buy, [-1] sell
        commission = self.commission
        rate, per_share, minimum = commission.rate, commission.per_share, commission.minimum
        cash, marks_bar, net, gross = self.cash, self._marks_bar, self._net, self._gross
        room = self.volume_room
        if room is not None:
            if self._room_bar != t:
                self._room_bar, self._room_used = t, {}
            used, fraction, volume = self._room_used, self.max_volume_fraction, self.volume

            def cap(order: list[Any], shares: int) -> tuple[int, tuple[OrderStatus, str] | None]:
                col = order[_COL]
                left = room.item(t, col) - used.get(col, 0)
                return _volume_capped(shares, left, fraction, volume.item(t, col), order[_CONTINGENT])
        for order, side, price, target_shares in due:
            if order[_STATUS] is not _PENDING:
                continue  # cancelled by an earlier fill of this bar (its OCO pair or its position)
            col = order[_COL]
            held = pos[col]
            sizing = order[_SIZING]
            if price is None:
                if sizing == "close" and held * side > 0:
                    side = -side
                price = opens.item(t, col) * side_factor[side]
            capped = None  # (status, reason) when the volume cap cuts this fill
            if sizing == "close":
                shares = int(abs(held))
                if shares == 0:
                    order[_STATUS], order[_REASON] = _CANCELLED, "no position to close"
                    continue
                if room is not None:
                    shares, capped = cap(order, shares)
            else:
                # Equity marks the other holdings at this bar's open and this symbol at the fill price.
                if marks_bar != t:
                    net, gross = self._marked(mark_open, t)
                    marks_bar = t
                move = price - mark_open.item(t, col)
                equity = cash + net + held * move
                buying_power = equity - (gross + abs(held) * move)
                if sizing == "equity":
                    shares = commission.max_shares(min(order[_AMOUNT] * equity, buying_power), price)
                elif sizing == "target":
                    # Whatever closes an opposite position always fills; what opens
                    # a new one is capped by the buying power before the close.
                    shares = target_shares
                    closing = min(shares, int(abs(held))) if held * side < 0 else 0
                    if shares > closing:
                        shares = closing + min(shares - closing, commission.max_shares(buying_power, price))
                else:
                    shares = int(order[_AMOUNT])
                    if room is not None:
                        shares, capped = cap(order, shares)
                    opening = shares - min(shares, int(abs(held))) if held * side < 0 else shares
                    if opening > 0 and not _affordable(commission, cash, side, shares, price, held, buying_power):
                        order[_STATUS], order[_REASON] = _REJECTED, "insufficient buying power"
                        continue
                if shares <= 0 and capped is None:
                    order[_STATUS], order[_REASON] = _REJECTED, "insufficient buying power"
                    continue
                if room is not None and capped is None and sizing != "shares":
                    shares, capped = cap(order, shares)
            if capped is not None:
                if order[_CONTINGENT]:
                    # A stop-loss or take-profit keeps working on what it could not close (FILL_RULES 12).
                    order[_REASON] = capped[1]
                else:
                    order[_STATUS], order[_REASON] = capped
                if not shares:
                    continue
            if room is not None:
                used[col] = used.get(col, 0) + shares
            # CommissionModel.cost
            fee = rate * shares * price + per_share * shares
            if fee < minimum:
                fee = minimum
            cash -= side * shares * price + fee
            new = held + side * shares
            pos[col] = new
            if marks_bar == t:
                mark = mark_open.item(t, col)
                net += (new - held) * mark
                gross += (abs(new) - abs(held)) * mark
            fills.bar.append(t)
            fills.col.append(col)
            fills.shares.append(side * shares)
            fills.price.append(price)
            fills.fee.append(fee)
            fills.order_id.append(order[_ID])
            if capped is None:
                order[_STATUS] = _FILLED
            if held != 0 and (new == 0 or (new > 0) != (held > 0)) and col in exits:
                reason = "the other order of its OCO pair filled" if order[_CONTINGENT] else "its position was closed"
                for exit_order in exits.pop(col):
                    if exit_order[_STATUS] is _PENDING:
                        exit_order[_STATUS], exit_order[_REASON] = _CANCELLED, reason
            exits_given = order[_STOP_LOSS] == order[_STOP_LOSS] or order[_TAKE_PROFIT] == order[_TAKE_PROFIT]
            if new * side > 0 and exits_given:
                self._attach_exits(order, -side, t if order[_TYPE] is _MARKET else t + 1)
        self.cash, self._marks_bar, self._net, self._gross = cash, marks_bar, net, gross

    def _marked(self, marks: np.ndarray, t: int) -> tuple[float, float]:
        """Sum over symbols of shares x ``marks[t]`` and of |shares| x ``marks[t]``."""
        if self._one_symbol:
            held, mark = self.pos[0], marks.item(t, 0)
            return held * mark, abs(held) * mark
        return _marked(np.array(self.pos), marks[t])

    def _attach_exits(self, parent: list[Any], side: int, active_from: int) -> None:
        group = self._next_oco
        self._next_oco += 1
        col = parent[_COL]
        exits = self.exits.setdefault(col, [])
        for order_type, level in ((_STOP, parent[_STOP_LOSS]), (_LIMIT, parent[_TAKE_PROFIT])):
            if level != level:
                continue
            child = [
                len(self.orders) + 1,
                parent[_SYMBOL],
                col,
                side,
                order_type,
                level,
                "close",
                0.0,
                parent[_PLACED],
                active_from,
                parent[_TAG],
                math.nan,
                math.nan,
                group,
                True,
                _PENDING,
                "",
            ]
            self.orders.append(child)
            self.pending.append(child)
            exits.append(child)

    def cancel_all(self, reason: str) -> None:
        for order in self.pending:
            order[_STATUS], order[_REASON] = _CANCELLED, reason
        self.pending.clear()


def _marked(pos: np.ndarray, marks: np.ndarray) -> tuple[float, float]:
    """Sum over symbols of shares x mark and of |shares| x mark."""
    return float(pos @ marks), float(np.abs(pos) @ marks)


def _affordable(
    commission: CommissionModel, cash: float, side: int, shares: int, price: float, held: float, buying_power: float
) -> bool:
    """Whether the buying power stays >= 0 after the fill (the symbol marked at ``price``)."""
    new = held + side * shares
    cash_change = -side * shares * price - commission.cost(shares, price)
    after = buying_power + cash_change + (new - held) * price - (abs(new) - abs(held)) * price
    return after >= -1e-9 * max(1.0, abs(cash))


def _volume_room(volume: np.ndarray, fraction: float) -> np.ndarray:
    """The most shares each bar lets fill per symbol: ``floor(fraction x volume)`` (0 where the volume is missing).

    The product is nudged up by one part in 10^12 before the floor, so that a
    fraction times a volume that is a whole number on paper (0.29 x 100) is
    not floored to the number below by its binary rounding.
    """
    room = np.floor(np.nan_to_num(fraction * volume, nan=0.0) * (1.0 + 1e-12))
    room.flags.writeable = False
    return room


def _volume_capped(
    wanted: int, room: float, fraction: float, volume: float, keeps_working: bool = False
) -> tuple[int, tuple[OrderStatus, str] | None]:
    """The shares of a ``wanted`` fill that the volume cap lets through, and the order's outcome if it cut any.

    ``room`` is what the bar's cap has left for the symbol after the bar's
    earlier fills. The rest of the order is cancelled, unless it
    ``keeps_working`` (a stop-loss or take-profit, which stays pending).
    """
    if wanted <= room:
        return wanted, None
    allowed = max(int(room), 0)
    limit = f"{fraction * 100:g}% of the bar's volume of {volume:,.0f}" if volume == volume else "the bar has no volume"
    rest = "stay pending" if keeps_working else "cancelled"
    if not allowed:
        return 0, (_CANCELLED, f"{VOLUME_CAP}: none of {wanted:,} shares filled ({limit}); {rest}")
    reason = f"{VOLUME_CAP}: filled {allowed:,} of {wanted:,} shares ({limit}); the other {wanted - allowed:,} {rest}"
    return allowed, (_FILLED, reason)


def _positive_price(name: str, value: float) -> float:
    value = float(value)
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{name} price must be a positive number, got {value!r}")
    return value


def _worse(a: tuple[bool, int, list[Any], int, float], b: tuple[bool, int, list[Any], int, float]) -> bool:
    """Whether candidate fill ``a`` should win over ``b`` in one OCO group (FILL_RULES 6)."""
    if a[0] != b[0]:
        return not a[0]  # reached at the open: it filled first
    return a[3] * a[4] > b[3] * b[4]  # buy: higher price is worse; sell: lower


class Backtest:
    """One strategy over one panel (a universe of symbols in one portfolio).

    ``progress``, when given, is called with the fraction of bars done (0..1)
    about a hundred times during the run. ``fast_path=False`` calls
    ``on_bar`` on every bar even if the strategy declared ``wake_on`` bars
    or ``act_by_position`` tables; it exists to check that both paths give
    the same fills.
    ``benchmark_returns`` and ``risk_free_rate`` feed ``compute_metrics``.
    A plain number for ``commission`` is a rate (fraction of notional);
    numbers may be ``Decimal`` (as stored in the database). ``spread`` is the
    bid-ask spread as a fraction of the price (half of it against each fill)
    and ``max_volume_fraction`` caps each bar's fills in a symbol at that
    fraction of the bar's volume (None: no cap); FILL_RULES 2, 4, 5 and 12.
    """

    def __init__(
        self,
        panel: Mapping[str, pd.DataFrame],
        strategy: Strategy,
        *,
        initial_capital: float = 10_000.0,
        commission: CommissionModel | float = CommissionModel(),
        slippage_bps: float = 0.0,
        spread: float = 0.0,
        max_volume_fraction: float | None = None,
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
        if not (math.isfinite(spread) and 0 <= spread <= MAX_SPREAD):
            raise ValueError(f"spread is a fraction of the price, in [0, {MAX_SPREAD}]; got {spread!r}")
        if max_volume_fraction is not None and not (
            math.isfinite(max_volume_fraction) and 0 < max_volume_fraction <= 1
        ):
            raise ValueError(f"max_volume_fraction must be in (0, 1], got {max_volume_fraction!r}")
        self.strategy = strategy
        self.initial_capital = float(initial_capital)
        self.commission = (
            commission if isinstance(commission, CommissionModel) else CommissionModel(rate=float(commission))
        )
        self.slippage_bps = float(slippage_bps)
        self.spread = float(spread)
        self.max_volume_fraction = None if max_volume_fraction is None else float(max_volume_fraction)
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
            spread=self.spread,
            max_volume_fraction=self.max_volume_fraction,
        )
        strategy = self.strategy
        strategy._bind(broker, data)
        broker.t = n - 1
        strategy.init(data)
        _refuse_stashed_history(strategy, n)
        strategy._in_init = False
        if self.fast_path and data._actions is not None:
            if not _run_one_symbol_tables(broker, data._actions, n, self.progress):
                _run_action_tables(broker, data._actions, n, self.progress)
        else:
            wake = data._wake
            bars = np.flatnonzero(wake).tolist() if (self.fast_path and wake is not None) else range(n)
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
        fills = broker.fills
        fill_arrays = fills.arrays()
        equity, exposed = _equity_from_fills(broker, fill_arrays, n, n_symbols)
        equity_series = pd.Series(equity, index=index, name="equity")
        drawdown = pd.Series(equity / np.maximum.accumulate(equity) - 1.0, index=index, name="drawdown")
        exposure = pd.Series(exposed, index=index, name="exposure")
        last = n - 1
        closed, still_open = _fifo(fill_arrays[:5])
        return_pct = closed["pnl"] / (closed["entry_price"] * closed["shares"])

        def dates(bars: Sequence[int] | np.ndarray) -> list[datetime.date]:
            return list(index.take(np.asarray(bars, dtype=np.int64)).date)

        def trades() -> list[Trade]:
            columns = [closed[key].tolist() for key in closed]
            columns += [return_pct.tolist(), dates(closed["entry_bar"]), dates(closed["exit_bar"])]
            return [
                Trade(
                    symbols[col],
                    "long" if direction > 0 else "short",
                    entry_bar,
                    exit_bar,
                    entry_date,
                    exit_date,
                    entry_price,
                    exit_price,
                    shares,
                    pnl,
                    trade_return,
                    fee,
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
                    trade_return,
                    entry_date,
                    exit_date,
                ) in zip(*columns, strict=True)
            ]

        records = broker.orders

        def fill_records() -> list[Fill]:
            if fills.tag is None:
                tags = [record[_TAG] for record in records]
            else:
                tags = [fills.tag] * len(records)
            return [
                Fill(
                    order_id,
                    bar,
                    date,
                    symbols[col],
                    "buy" if signed > 0 else "sell",
                    abs(signed),
                    price,
                    fee,
                    tags[order_id - 1],
                )
                for (bar, col, signed, price, fee, order_id), date in zip(
                    zip(*fills.columns(), strict=True), dates(fill_arrays[0]), strict=True
                )
            ]

        last_date = index[last].date()
        open_trades = []
        for col, direction, entry_bar, entry_price, shares, entry_fee in zip(
            *(still_open[key].tolist() for key in still_open), strict=True
        ):
            mark = float(broker.mark_close[last, col])
            unrealized = direction * (mark - entry_price) * shares - entry_fee
            open_trades.append(
                OpenTrade(
                    symbol=symbols[col],
                    direction="long" if direction > 0 else "short",
                    entry_bar=entry_bar,
                    entry_date=index[entry_bar].date(),
                    entry_price=entry_price,
                    quantity=shares,
                    last_date=last_date,
                    last_price=mark,
                    unrealized_pnl=unrealized,
                    return_pct=unrealized / (entry_price * shares),
                    commission=entry_fee,
                    bars_held=last - entry_bar,
                )
            )
        metrics = compute_metrics(
            equity_series,
            pd.DataFrame({"pnl": closed["pnl"], "return_pct": return_pct}),
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
            trades=LazyList(len(return_pct), trades),
            open_trades=open_trades,
            fills=LazyList(len(fills), fill_records),
            orders=LazyList(len(records), lambda: [Order(record) for record in records]),
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


class LazyList(Sequence):
    """A read-only list built the first time it is read.

    A long run closes tens of thousands of trades and places as many orders;
    most callers read the metrics and the equity curve, so the result builds
    its ``Trade``, ``Fill`` and ``Order`` objects only when asked for them.
    Compares equal to a list with the same items; pickles as a plain list.
    """

    __slots__ = ("_build", "_items", "_length")

    def __init__(self, length: int, build: Callable[[], list[Any]]):
        self._length = length
        self._build: Callable[[], list[Any]] | None = build
        self._items: list[Any] | None = None

    def _list(self) -> list[Any]:
        if self._items is None:
            with _cyclic_gc_paused():  # as during the run: many objects, no cycles
                self._items = self._build()
            self._build = None
        return self._items

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index):
        return self._list()[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (LazyList, list)):
            return self._list() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._list())

    def __reduce__(self) -> tuple[type, tuple[list[Any]]]:
        return list, (self._list(),)


def _run_action_tables(
    broker: Broker, actions: ActionTables, n: int, progress: Callable[[float], None] | None
) -> None:
    """Run a strategy's ``act_by_position`` tables: its orders and their fills, without calling ``on_bar``.

    The bars visited are the bars with an action and every bar while orders
    are pending. On each, first the pending orders fill (as
    ``Broker.process_bar`` fills market orders: at the open plus slippage,
    reducing orders first, a symbol without a bar keeps its orders for its
    next bar), then, symbol by symbol in column order, the action for the
    position held places its orders (as ``Strategy.buy/sell/close``).

    This is ``Broker._execute`` for the market orders a table can place,
    written out in one loop over plain numbers, with each order a small
    tuple (``Order`` records are built when the result's orders are read):
    the per-order and per-fill work of a long run is most of its time. The
    tests hold it to the same orders, fills and equity as ``on_bar`` through
    the broker (``fast_path=False``).
    """
    flat, long, short = actions.flat, actions.long, actions.short
    rows, cols = np.nonzero((flat != 0) | (long != 0) | (short != 0))
    event_bars, event_cols = rows.tolist(), cols.tolist()
    if_flat, if_long, if_short = (table[rows, cols].tolist() for table in (flat, long, short))
    event_bars.append(n)  # a sentinel: no bar is n
    size, tag = actions.size, actions.tag
    fixed_size = broker.sized(0, size) if isinstance(size, (AllIn, FractionOfEquity, FixedShares)) else None
    opens, mark_open = broker.open, broker.mark_open
    gaps = not np.isfinite(opens).all()  # some symbol lacks a bar somewhere: orders may wait
    pos = broker.pos
    pos_array = np.array(pos)  # the same positions, for the marks' dot products
    commission = broker.commission
    rate, per_share, minimum = commission.rate, commission.per_share, commission.minimum
    unit_cost = 1.0 + rate
    floor = math.floor
    side_factor = (1.0, broker.buy_factor, broker.sell_factor)  # by side: [1] buy, [-1] sell
    room, fraction, volume = broker.volume_room, broker.max_volume_fraction, broker.volume
    close_act, side_of_act = _CLOSE_ACT, _SIDE_OF_ACT
    cash, marks_bar, net, gross = broker.cash, broker._marks_bar, broker._net, broker._gross
    cash_bars, cash_after = broker.cash_bars, broker.cash_after
    # Fills as (bar, col, signed shares, price, commission, order id); orders as
    # (id, col, side, sizing, amount, bar placed), and the outcome of those that did not fill.
    fills: list[tuple[int, int, int, float, float, int]] = []
    record_fill = fills.append
    placed: list[tuple[int, int, int, str, float, int]] = []
    unfilled: dict[int, tuple[OrderStatus, str]] = {}
    pending: list[tuple[int, int, int, str, float, int]] = []
    order_id = 0
    step = max(1, n // 100)
    next_report = step if progress is not None else n
    k = 0
    t = event_bars[0]
    while t < n:
        if pending:
            # The orders whose symbol has a bar fill (FILL_RULES 2), reducing ones first (3).
            if gaps:
                due, waiting = [], []
                for order in pending:
                    open_price = opens.item(t, order[1])
                    (due if open_price == open_price else waiting).append(order)
                pending = waiting
            else:
                due, pending = pending, []
            first, then = [], []
            for order in due:
                (first if order[3] == "close" or pos[order[1]] * order[2] < 0 else then).append(order)
            filled = False
            used: dict[int, int] = {}  # shares filled per symbol on this bar, for the volume cap
            for order_id_, col, side, sizing, amount, _ in first + then if first and then else first or then:
                held = pos[col]
                capped = None
                if sizing == "close":
                    shares = int(abs(held))
                    if shares == 0:
                        unfilled[order_id_] = (_CANCELLED, "no position to close")
                        continue
                    side = -1 if held > 0 else 1
                    price = opens.item(t, col) * side_factor[side]
                    if room is not None:
                        shares, capped = _volume_capped(
                            shares, room.item(t, col) - used.get(col, 0), fraction, volume.item(t, col)
                        )
                    fee = rate * shares * price + per_share * shares
                    if fee < minimum:
                        fee = minimum
                else:
                    price = opens.item(t, col) * side_factor[side]
                    if marks_bar != t:
                        net, gross = _marked(pos_array, mark_open[t])
                        marks_bar = t
                    move = price - mark_open.item(t, col)
                    equity = cash + net + held * move
                    buying_power = equity - (gross + abs(held) * move)
                    if sizing == "equity":
                        # CommissionModel.max_shares, keeping the commission of the size found.
                        budget = min(amount * equity, buying_power)
                        shares = 0
                        if budget > 0.0 and price > 0.0:
                            shares = floor(budget / (price * unit_cost + per_share))
                            if minimum > 0.0:
                                shares = max(0, min(shares, floor((budget - minimum) / price)))
                            fee = rate * shares * price + per_share * shares
                            if fee < minimum:
                                fee = minimum
                            while shares > 0 and shares * price + fee > budget:
                                shares -= 1
                                fee = rate * shares * price + per_share * shares
                                if fee < minimum:
                                    fee = minimum
                        if shares <= 0:
                            unfilled[order_id_] = (_REJECTED, "insufficient buying power")
                            continue
                        if room is not None:
                            shares, capped = _volume_capped(
                                shares, room.item(t, col) - used.get(col, 0), fraction, volume.item(t, col)
                            )
                            fee = rate * shares * price + per_share * shares
                            if fee < minimum:
                                fee = minimum
                    else:
                        shares = int(amount)
                        if room is not None:
                            shares, capped = _volume_capped(
                                shares, room.item(t, col) - used.get(col, 0), fraction, volume.item(t, col)
                            )
                        opening = shares - min(shares, int(abs(held))) if held * side < 0 else shares
                        if opening > 0 and not _affordable(commission, cash, side, shares, price, held, buying_power):
                            unfilled[order_id_] = (_REJECTED, "insufficient buying power")
                            continue
                        fee = rate * shares * price + per_share * shares
                        if fee < minimum:
                            fee = minimum
                if capped is not None:
                    unfilled[order_id_] = capped  # filled in part (or not at all) by the volume cap
                    if not shares:
                        continue
                if room is not None:
                    used[col] = used.get(col, 0) + shares
                signed = side * shares
                cash -= signed * price + fee
                new = held + signed
                pos[col] = pos_array[col] = new
                if marks_bar == t:
                    mark = mark_open.item(t, col)
                    net += signed * mark
                    gross += (abs(new) - abs(held)) * mark
                record_fill((t, col, signed, price, fee, order_id_))
                filled = True
            if filled:
                cash_bars.append(t)
                cash_after.append(cash)
        if event_bars[k] == t:
            while event_bars[k] == t:
                col = event_cols[k]
                held = pos[col]
                act = if_flat[k] if held == 0 else (if_long[k] if held > 0 else if_short[k])
                k += 1
                if not act:
                    continue
                if act >= close_act:
                    order_id += 1
                    order = (order_id, col, 0, "close", 0.0, t)
                    placed.append(order)
                    pending.append(order)
                side = side_of_act[act]
                if side:
                    if fixed_size is None:
                        broker.t = t
                        sizing, amount = broker.sized(col, size)
                    else:
                        sizing, amount = fixed_size
                    order_id += 1
                    order = (order_id, col, side, sizing, amount, t)
                    placed.append(order)
                    if sizing == "equity" and amount <= 0.0:
                        unfilled[order_id] = (_REJECTED, "the sizer gave no size")
                    else:
                        pending.append(order)
            if t >= next_report:
                progress(t / n)
                next_report = t + step
        if pending:
            t += 1
        else:
            t = event_bars[k]
    for order in pending:
        unfilled[order[0]] = (_CANCELLED, "still pending at the end of the data")
    broker.cash, broker._marks_bar, broker._net, broker._gross = cash, marks_bar, net, gross
    broker.t = n - 1
    if fills:
        columns = np.fromiter(itertools.chain.from_iterable(fills), float, count=6 * len(fills)).reshape(-1, 6).T
        bar, col, shares, order_ids = (columns[k].astype(np.int64) for k in (0, 1, 2, 5))
        broker.fills = FillLog.from_arrays(bar, col, shares, columns[3], columns[4], order_ids, tag=tag)
    broker.orders = _order_records(broker.symbols, len(placed), lambda: placed, unfilled, tag)


def _order_records(
    symbols: tuple[str, ...],
    count: int,
    placed: Callable[[], Iterable[tuple[int, int, int, str, float, int]]],
    unfilled: dict[int, tuple[OrderStatus, str]],
    tag: str,
) -> LazyList:
    """The records (ORDER_FIELDS) of market orders a table placed, built when first read.

    ``placed`` gives each order as (id, col, side, sizing, amount, bar placed);
    an order is filled unless ``unfilled`` holds its status and reason (an
    order the volume cap filled in part is filled, with the reason).
    """
    nan = math.nan

    def records() -> list[list[Any]]:
        filled = (_FILLED, "")
        return [
            [order_id, symbols[col], col, side, _MARKET, nan, sizing, amount, bar, bar + 1, tag, nan, nan, 0, False]
            + [*unfilled.get(order_id, filled)]
            for order_id, col, side, sizing, amount, bar in placed()
        ]

    return LazyList(count, records)


def _run_one_symbol_tables(
    broker: Broker, actions: ActionTables, n: int, progress: Callable[[float], None] | None
) -> bool:
    """``_run_action_tables`` for one symbol whose orders all fill on the next bar; False if that is not the case.

    With one symbol, a constant size and a bar after every action bar, the
    orders an action places are the only ones due on the next bar, where the
    close (if any) fills first and then the sized order. So the loop below
    walks the actions, not the bars, and keeps only what the next action
    depends on: the position, the cash and the size of each sized fill.
    The orders, the fills (their prices and commissions computed as the loop
    computes them) and the cash after each bar with fills are then rebuilt
    from that log with numpy; order records are built when read.
    """
    size = actions.size
    if not broker._one_symbol or not isinstance(size, (AllIn, FractionOfEquity, FixedShares)):
        return False
    if broker.volume_room is not None:  # a close the cap cuts leaves a position: orders interact
        return False
    flat, long, short = actions.flat[:, 0], actions.long[:, 0], actions.short[:, 0]
    bars = np.flatnonzero((flat != 0) | (long != 0) | (short != 0))
    filled_bars = bars[bars + 1 < n]
    next_open = broker.open[filled_bars + 1, 0]
    if not np.isfinite(next_open).all():
        return False
    sizing, amount = broker.sized(0, size)
    by_equity = sizing == "equity"
    commission = broker.commission
    rate, per_share, minimum = commission.rate, commission.per_share, commission.minimum
    unit_cost = 1.0 + rate
    floor = math.floor
    cash = broker.cash
    held = broker.pos[0]
    # One entry per bar that placed orders: (bar, action, position held then, shares of the sized fill, cash after).
    log: list[tuple[int, int, float, int, float]] = []
    step = max(1, n // 100)
    next_report = step if progress is not None else n
    close_act, side_of_act = _CLOSE_ACT, _SIDE_OF_ACT
    # What the open is multiplied by for a buy and a sell (half the spread, then slippage),
    # and for the sized order of each action.
    buy_factor, sell_factor = broker.buy_factor, broker.sell_factor
    factor_of_act = (0.0, buy_factor, sell_factor, 0.0, buy_factor, sell_factor)
    events = (
        filled_bars.tolist(),
        next_open.tolist(),
        flat[filled_bars].tolist(),
        long[filled_bars].tolist(),
        short[filled_bars].tolist(),
    )
    for t, open_price, if_flat, if_long, if_short in zip(*events):
        act = if_flat if held == 0 else (if_long if held > 0 else if_short)
        if not act:
            continue
        if t >= next_report:
            progress(t / n)
            next_report = t + step
        held_before = held
        if act >= close_act and held:
            # Broker._execute's close of |held| shares: the same numbers, fewer steps.
            price = open_price * (sell_factor if held > 0 else buy_factor)
            shares = abs(held)
            fee = rate * shares * price + per_share * shares
            if fee < minimum:
                fee = minimum
            cash -= fee - held * price
            held = 0.0
        side = side_of_act[act]
        shares = 0
        if side:
            price = open_price * factor_of_act[act]
            # Broker._execute's equity and buying power (the symbol marked at the
            # fill price); with nothing held both are the cash, to the bit.
            if held == 0:
                equity = buying_power = cash
            else:
                move = price - open_price
                equity = cash + held * open_price + held * move
                buying_power = equity - (abs(held) * open_price + abs(held) * move)
            if by_equity:
                # CommissionModel.max_shares, keeping the commission of the size found.
                budget = amount * equity
                if buying_power < budget:
                    budget = buying_power
                if budget > 0.0 and price > 0.0:
                    shares = floor(budget / (price * unit_cost + per_share))
                    if minimum > 0.0:
                        shares = max(0, min(shares, floor((budget - minimum) / price)))
                    fee = rate * shares * price + per_share * shares
                    if fee < minimum:
                        fee = minimum
                    while shares > 0 and shares * price + fee > budget:
                        shares -= 1
                        fee = rate * shares * price + per_share * shares
                        if fee < minimum:
                            fee = minimum
            else:
                shares = int(amount)
                opening = shares - min(shares, int(abs(held))) if held * side < 0 else shares
                if opening > 0 and not _affordable(commission, cash, side, shares, price, held, buying_power):
                    shares = 0
                else:
                    fee = rate * shares * price + per_share * shares
                    if fee < minimum:
                        fee = minimum
            if shares:
                signed = side * shares
                cash -= signed * price + fee
                held += signed
        log.append((t, act, held_before, shares, cash))
    last_act = 0
    if len(bars) and bars[-1] == n - 1:  # orders placed on the last bar never fill
        last_act = int(flat[n - 1] if held == 0 else (long[n - 1] if held > 0 else short[n - 1]))
    broker.cash = cash
    broker.pos[0] = held
    broker.t = n - 1
    _rebuild_one_symbol_run(broker, actions.tag, sizing, amount, log, last_act, n)
    return True


def _rebuild_one_symbol_run(
    broker: Broker,
    tag: str,
    sizing: Sizing,
    amount: float,
    log: list[tuple[int, int, float, int, float]],
    last_act: int,
    n: int,
) -> None:
    """The orders, fills and cash balances of ``_run_one_symbol_tables`` from its log, with numpy.

    Prices and commissions are computed with the loop's arithmetic, element
    by element, so they are the loop's numbers to the bit.
    """
    columns = np.fromiter(itertools.chain.from_iterable(log), float, count=5 * len(log)).reshape(-1, 5).T
    bar = columns[0].astype(np.int64)
    act = columns[1].astype(np.int64)
    held, entry_shares, cash = columns[2], columns[3], columns[4]
    side = np.array(_SIDE_OF_ACT, dtype=np.int64)[act]
    has_close, has_entry = act >= _CLOSE_ACT, side != 0
    if last_act:
        bar, act = np.append(bar, n - 1), np.append(act, last_act)
        has_close = np.append(has_close, last_act >= _CLOSE_ACT)
        has_entry = np.append(has_entry, _SIDE_OF_ACT[last_act] != 0)
    # Order ids: each bar's close first, then its sized order.
    first_id = np.cumsum(has_close.astype(np.int64) + has_entry) - has_close - has_entry + 1
    close_id, entry_id = first_id, first_id + has_close
    unfilled: dict[int, tuple[OrderStatus, str]] = {}
    k = len(log)
    close_filled = has_close[:k] & (held != 0)
    entry_filled = has_entry[:k] & (entry_shares > 0)
    for order_id in close_id[:k][has_close[:k] & ~close_filled].tolist():
        unfilled[order_id] = (_CANCELLED, "no position to close")
    for order_id in entry_id[:k][has_entry[:k] & ~entry_filled].tolist():
        unfilled[order_id] = (_REJECTED, "insufficient buying power")
    if last_act:
        for order_id in range(int(close_id[-1]), int(entry_id[-1] + has_entry[-1])):
            unfilled[order_id] = (_CANCELLED, "still pending at the end of the data")
    # Fills: each bar's close (if it filled), then its sized order (if it filled), on the next bar.
    fill_bar = bar[:k] + 1
    close_side = np.where(held > 0, -1, 1)
    open_price = broker.open[fill_bar, 0]
    close_shares = np.abs(held)
    both_shares = np.stack([close_shares, entry_shares], axis=1)
    both_side = np.stack([close_side, side[:k]], axis=1)
    both_price = open_price[:, None] * np.where(both_side > 0, broker.buy_factor, broker.sell_factor)
    commission = broker.commission
    both_fee = commission.rate * both_shares * both_price + commission.per_share * both_shares
    both_fee = np.where(both_fee < commission.minimum, commission.minimum, both_fee)
    both_filled = np.stack([close_filled, entry_filled], axis=1).ravel()
    fills = FillLog.from_arrays(
        np.repeat(fill_bar, 2)[both_filled],
        np.zeros(int(both_filled.sum()), dtype=np.int64),
        (both_side * both_shares).astype(np.int64).ravel()[both_filled],
        both_price.ravel()[both_filled],
        both_fee.ravel()[both_filled],
        np.stack([close_id[:k], entry_id[:k]], axis=1).ravel()[both_filled],
        tag=tag,
    )
    broker.fills = fills
    any_fill = close_filled | entry_filled
    broker.cash_bars = np.concatenate((np.asarray(broker.cash_bars, dtype=np.int64), fill_bar[any_fill]))
    broker.cash_after = np.concatenate((np.asarray(broker.cash_after, dtype=float), cash[any_fill]))
    def placed() -> Iterator[tuple[int, int, int, str, float, int]]:
        order_id = 0
        for placed_bar, action in zip(bar.tolist(), act.tolist(), strict=True):
            if action >= _CLOSE_ACT:
                order_id += 1
                yield order_id, 0, 0, "close", 0.0, placed_bar
            if _SIDE_OF_ACT[action]:
                order_id += 1
                yield order_id, 0, _SIDE_OF_ACT[action], sizing, amount, placed_bar

    count = int(has_close.sum() + has_entry.sum())
    broker.orders = _order_records(broker.symbols, count, placed, unfilled, tag)


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



def _fifo(
    fills: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Closed trades and open lots, FIFO per symbol (FILL_RULES 10), computed from the fills at once.

    A fill first closes what it can of the position held before it, oldest
    lot first, then opens a lot with the rest. Each (lot, closing fill) pair
    is one closed trade whose P&L is net of its pro-rata share of the lot's
    entry commission and of the closing fill's commission. Trades come in
    the order of their closing fills, oldest lot first within one; open lots
    per symbol, oldest first, with the entry commission of what is left.
    Positions are whole numbers of shares, so the running sums are exact.
    """
    if not len(fills[0]):
        none = np.zeros(0, dtype=np.int64)
        closed_keys = ("col", "direction", "entry_bar", "exit_bar", "entry_price", "exit_price", "shares")
        closed = {key: none for key in closed_keys} | {"pnl": np.zeros(0), "commission": np.zeros(0)}
        lot_keys = ("col", "direction", "entry_bar", "entry_price", "shares", "commission")
        return closed, {key: none for key in lot_keys}
    # Each symbol's fills together, in fill order.
    if (fills[1] == fills[1][0]).all():
        by_symbol = np.arange(len(fills[1]))
        bar, col, signed, price, fee = fills
    else:
        by_symbol = np.argsort(fills[1], kind="stable")
        bar, col, signed, price, fee = (values[by_symbol] for values in fills)
    first = np.ones(len(col), dtype=bool)
    first[1:] = col[1:] != col[:-1]
    group = np.cumsum(first) - 1
    last = np.append(np.flatnonzero(first)[1:], len(col)) - 1
    running = np.cumsum(signed)
    held_before = running - signed - (running - signed)[first][group]
    size = np.abs(signed)
    reducing = (held_before != 0) & (np.sign(signed) != np.sign(held_before))
    closing = np.where(reducing, np.minimum(size, np.abs(held_before)), 0.0)
    opening = size - closing
    # Running opened and closed quantities, each symbol's closed ones shifted
    # to start where its opened ones start: a closing quantity then matches
    # the lots whose opened range it intersects, and never another symbol's.
    opened_end = np.cumsum(opening)
    closed_end = np.cumsum(closing)
    closed_end += ((opened_end - opening) - (closed_end - closing))[first][group]
    lots = np.flatnonzero(opening > 0)
    lot_end = opened_end[lots]
    lot_start = lot_end - opening[lots]
    exits = np.flatnonzero(closing > 0)
    exit_end = closed_end[exits]
    exit_start = exit_end - closing[exits]
    first_lot = np.searchsorted(lot_end, exit_start, side="right")
    n_lots = np.searchsorted(lot_start, exit_end, side="left") - first_lot
    pair_exit = np.repeat(np.arange(len(exits)), n_lots)
    pair_lot = np.repeat(first_lot - (np.cumsum(n_lots) - n_lots), n_lots) + np.arange(int(n_lots.sum()))
    take = np.minimum(lot_end[pair_lot], exit_end[pair_exit]) - np.maximum(lot_start[pair_lot], exit_start[pair_exit])
    chrono = np.argsort(by_symbol[exits[pair_exit]], kind="stable")
    pair_lot, pair_exit, take = pair_lot[chrono], pair_exit[chrono], take[chrono]
    entry, exit_ = lots[pair_lot], exits[pair_exit]
    lot_fee = fee[lots] * opening[lots] / size[lots]
    fee_left = lot_fee.copy()
    entry_fee = lot_fee[pair_lot] * take / opening[entry]
    # A lot closed in pieces pays each piece's share of the commission it has
    # left, piece by piece (as a broker's running lot would): few lots, a loop.
    pieces = np.bincount(pair_lot, minlength=len(lots))
    left = lot_end - np.maximum(lot_start, closed_end[last][group[lots]])
    split = np.flatnonzero(((pieces > 1) | ((pieces == 1) & (left > 0)))[pair_lot])
    split = split[np.argsort(pair_lot[split], kind="stable")]
    current, fee_now, shares_now = -1, 0.0, 0.0
    for pair, lot, piece_shares in zip(split.tolist(), pair_lot[split].tolist(), take[split].tolist(), strict=True):
        if lot != current:
            current, fee_now, shares_now = lot, float(lot_fee[lot]), float(opening[lots[lot]])
        piece = fee_now * piece_shares / shares_now
        entry_fee[pair] = piece
        fee_now -= piece
        shares_now -= piece_shares
        fee_left[lot] = fee_now
    direction = np.sign(signed[entry])
    exit_fee = fee[exit_] * take / size[exit_]
    closed = {
        "col": col[exit_],
        "direction": direction.astype(np.int64),
        "entry_bar": bar[entry],
        "exit_bar": bar[exit_],
        "entry_price": price[entry],
        "exit_price": price[exit_],
        "shares": take.astype(np.int64),
        "pnl": direction * (price[exit_] - price[entry]) * take - entry_fee - exit_fee,
        "commission": entry_fee + exit_fee,
    }
    still = left > 0
    still_open = {
        "col": col[lots[still]],
        "direction": np.sign(signed[lots[still]]).astype(np.int64),
        "entry_bar": bar[lots[still]],
        "entry_price": price[lots[still]],
        "shares": left[still].astype(np.int64),
        "commission": fee_left[still],
    }
    return closed, still_open


def _equity_from_fills(
    broker: Broker, fills: tuple[np.ndarray, ...], n: int, n_symbols: int
) -> tuple[np.ndarray, np.ndarray]:
    """Equity at every close and whether a position was held, rebuilt from the fills.

    Positions are whole numbers, so their running sums are exact; cash is
    the broker's own balance after each bar with fills.
    """
    # cash_bars is increasing: 0, then each bar with fills; a balance (and a
    # position) holds until the next.
    held_for = np.diff(np.append(broker.cash_bars, n))
    cash = np.repeat(np.asarray(broker.cash_after), held_for)
    fill_bars, fill_cols, fill_shares = fills[:3]
    if n_symbols == 1:
        last_fill_of_bar = np.append(np.flatnonzero(np.diff(fill_bars)), len(fill_bars) - 1) if len(fill_bars) else []
        held = np.repeat(np.append(0.0, np.cumsum(fill_shares)[last_fill_of_bar]), held_for)
        return cash + held * broker.mark_close[:, 0], held != 0
    equity = np.empty(n)
    exposed = np.empty(n, dtype=bool)
    held = np.zeros(n_symbols)
    chunk = max(1, 2_000_000 // n_symbols)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        lo, hi = np.searchsorted(fill_bars, [start, stop])
        cells = (fill_bars[lo:hi] - start) * n_symbols + fill_cols[lo:hi]
        changes = np.bincount(cells, weights=fill_shares[lo:hi], minlength=(stop - start) * n_symbols)
        positions = held + np.cumsum(changes.reshape(stop - start, n_symbols), axis=0)
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
