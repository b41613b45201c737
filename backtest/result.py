"""What a backtest returns: fills, closed and open trades, the equity curve, metrics.

Everything here is plain data. ``BacktestResult.to_dict()`` is the JSON shape
the API and ``run_backtest --json`` serve: ISO dates, Python floats rounded to
cents for money and to 6 decimals for prices and ratios, ``None`` where a value
is undefined.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

if TYPE_CHECKING:
    from backtest.engine import Order

Direction = Literal["long", "short"]

VOLUME_CAP = "volume cap"
"""How the reason of an order the volume cap cut begins (FILL_RULES 12)."""

MONEY_DECIMALS = 2
PRICE_DECIMALS = 6
RATIO_DECIMALS = 6


def _round(value: float | None, decimals: int) -> float | None:
    if value is None:
        return None
    value = float(value)
    if not math.isfinite(value):
        return None
    return round(value, decimals)


def _iso(day: datetime.date | None) -> str | None:
    return None if day is None else day.isoformat()


# The records are plain (non-frozen) slotted dataclasses: a long run builds
# hundreds of thousands of them, and frozen ones cost several times more each.


@dataclass(slots=True)
class Fill:
    """One execution: ``quantity`` shares bought (``side`` "buy") or sold at ``price``."""

    order_id: int
    bar: int
    date: datetime.date
    symbol: str
    side: Literal["buy", "sell"]
    quantity: int
    price: float
    commission: float
    tag: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "date": _iso(self.date),
            "symbol": self.symbol,
            "side": self.side,
            "quantity": self.quantity,
            "price": _round(self.price, PRICE_DECIMALS),
            "commission": _round(self.commission, MONEY_DECIMALS),
            "tag": self.tag,
        }


@dataclass(slots=True)
class Trade:
    """A closed round trip (or the closed part of one, FIFO).

    ``pnl`` is net of the entry and exit commissions (slippage is already in
    the prices); ``return_pct`` is ``pnl / (entry_price * quantity)`` as a
    fraction; ``commission`` is the entry share plus the exit share of the
    fills' commissions; ``bars_held = exit_bar - entry_bar``.
    """

    symbol: str
    direction: Direction
    entry_bar: int
    exit_bar: int
    entry_date: datetime.date
    exit_date: datetime.date
    entry_price: float
    exit_price: float
    quantity: int
    pnl: float
    return_pct: float
    commission: float

    @property
    def bars_held(self) -> int:
        return self.exit_bar - self.entry_bar

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "direction": self.direction,
            "entry_date": _iso(self.entry_date),
            "exit_date": _iso(self.exit_date),
            "entry_price": _round(self.entry_price, PRICE_DECIMALS),
            "exit_price": _round(self.exit_price, PRICE_DECIMALS),
            "quantity": self.quantity,
            "pnl": _round(self.pnl, MONEY_DECIMALS),
            "return_pct": _round(self.return_pct, RATIO_DECIMALS),
            "commission": _round(self.commission, MONEY_DECIMALS),
            "bars_held": self.bars_held,
        }


@dataclass(slots=True)
class OpenTrade:
    """A position lot still open after the last bar, marked to the last close.

    ``unrealized_pnl`` deducts the entry commission only: no exit has been
    paid for. Open trades are not part of the trade statistics.
    """

    symbol: str
    direction: Direction
    entry_bar: int
    entry_date: datetime.date
    entry_price: float
    quantity: int
    last_date: datetime.date
    last_price: float
    unrealized_pnl: float
    return_pct: float
    commission: float
    bars_held: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "direction": self.direction,
            "entry_date": _iso(self.entry_date),
            "entry_price": _round(self.entry_price, PRICE_DECIMALS),
            "quantity": self.quantity,
            "last_date": _iso(self.last_date),
            "last_price": _round(self.last_price, PRICE_DECIMALS),
            "unrealized_pnl": _round(self.unrealized_pnl, MONEY_DECIMALS),
            "return_pct": _round(self.return_pct, RATIO_DECIMALS),
            "commission": _round(self.commission, MONEY_DECIMALS),
            "bars_held": self.bars_held,
        }


def _json_metric(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    return _round(value, RATIO_DECIMALS)


@dataclass(slots=True)
class BacktestResult:
    """The outcome of ``Backtest.run()``.

    ``equity`` is marked to each bar's close (open positions included),
    ``drawdown`` is ``equity / running peak - 1`` (<= 0) and ``exposure`` is
    True on bars that end with a position. ``orders`` holds every order with
    its final status (filled, cancelled or rejected, with the reason).
    """

    strategy_id: str
    params: dict[str, Any]
    symbols: list[str]
    initial_capital: float
    equity: pd.Series
    drawdown: pd.Series
    exposure: pd.Series
    trades: list[Trade]
    open_trades: list[OpenTrade]
    fills: list[Fill]
    orders: list[Order] = field(repr=False)
    metrics: dict[str, Any]
    elapsed_seconds: float
    benchmark: pd.Series | None = None
    """The benchmark bought with the initial capital at the first bar's close (None without one)."""

    @property
    def final_equity(self) -> float:
        return float(self.equity.iloc[-1])

    def equity_curve(self) -> list[dict[str, Any]]:
        """``[{date, equity, drawdown, benchmark}]``, one row per bar (``benchmark`` None without one)."""
        dates = [d.date().isoformat() for d in self.equity.index]
        equity = self.equity.to_numpy().round(MONEY_DECIMALS).tolist()
        drawdown = self.drawdown.to_numpy().round(RATIO_DECIMALS).tolist()
        benchmark = (
            [None] * len(dates) if self.benchmark is None else self.benchmark.to_numpy().round(MONEY_DECIMALS).tolist()
        )
        return [
            {"date": date, "equity": value, "drawdown": dd, "benchmark": bench}
            for date, value, dd, bench in zip(dates, equity, drawdown, benchmark, strict=True)
        ]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-safe summary: metrics, equity curve, closed and open trades, refusals, volume-capped orders."""

        def outcome(order: Order) -> dict[str, Any]:
            return {
                "order_id": order.id,
                "symbol": order.symbol,
                "placed": _iso(self.equity.index[order.placed_bar].date()),
                "status": order.status.value,
                "reason": order.reason,
            }

        refused = [outcome(order) for order in self.orders if order.status.value == "rejected"]
        capped = [outcome(order) for order in self.orders if order.reason.startswith(VOLUME_CAP)]
        return {
            "strategy_id": self.strategy_id,
            "params": dict(self.params),
            "symbols": list(self.symbols),
            "initial_capital": _round(self.initial_capital, MONEY_DECIMALS),
            "start": _iso(self.equity.index[0].date()),
            "end": _iso(self.equity.index[-1].date()),
            "metrics": {key: _json_metric(value) for key, value in self.metrics.items()},
            "equity_curve": self.equity_curve(),
            "trades": [trade.to_dict() for trade in self.trades],
            "open_trades": [trade.to_dict() for trade in self.open_trades],
            "rejected_orders": refused,
            "volume_capped_orders": capped,
        }
