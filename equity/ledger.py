"""A pure FIFO ledger over fills: cash, open lots, closed trades. No ORM inside.

Conventions (written down because every number of the equity app follows them):

* A fill changes cash exactly as the order ledger books it
  (``orders.ledger.cash_delta``): ``-/+ notional`` rounded to the cent, and
  ``-commission``. A short sale credits its proceeds to cash.
* Lots are matched first in, first out per symbol. A fill that closes more than
  the open position (a flip) closes every lot and opens a new lot in the other
  direction with the remainder.
* A closed trade's commission is its pro-rata share, by quantity, of the entry
  fill's and of the exit fill's commission; ``net_pnl = gross_pnl - commission``.
* Cash is in cents per fill; P&L amounts stay unquantized here and callers
  quantize them at the edge (0.01 for money).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from orders.ledger import cash_delta

ZERO = Decimal("0")
BUY, SELL = "BUY", "SELL"
LONG, SHORT = "LONG", "SHORT"


@dataclass(frozen=True, slots=True)
class LedgerFill:
    """The parts of a fill (and of its order) the ledger needs."""

    id: int
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    commission: Decimal
    executed_at: datetime
    multiplier: int = 1
    strategy_tag: str = ""
    factor_tag: str = ""
    plan_id: int | None = None

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side == BUY else -self.quantity


@dataclass(slots=True)
class Lot:
    """What is left open of one entry fill; ``quantity`` is signed (> 0 long)."""

    fill: LedgerFill
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """``quantity`` units opened by ``entry`` and closed by ``exit``."""

    entry: LedgerFill
    exit: LedgerFill
    quantity: Decimal
    direction: str

    @property
    def gross_pnl(self) -> Decimal:
        sign = 1 if self.direction == LONG else -1
        return sign * (self.exit.price - self.entry.price) * self.quantity * self.entry.multiplier

    @property
    def commission(self) -> Decimal:
        return (
            self.entry.commission * self.quantity / self.entry.quantity
            + self.exit.commission * self.quantity / self.exit.quantity
        )

    @property
    def net_pnl(self) -> Decimal:
        return self.gross_pnl - self.commission


@dataclass
class Ledger:
    """Replays fills in execution order. ``apply`` returns the trades a fill closed."""

    initial_cash: Decimal
    cash: Decimal = ZERO
    commissions: Decimal = ZERO
    realized_gross: Decimal = ZERO
    lots: dict[str, deque[Lot]] = field(default_factory=dict)
    last_fill: dict[str, LedgerFill] = field(default_factory=dict)
    multipliers: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.cash = self.initial_cash

    def apply(self, fill: LedgerFill) -> list[ClosedTrade]:
        self.cash += cash_delta(
            side=fill.side, quantity=fill.quantity, price=fill.price, commission=fill.commission,
            multiplier=fill.multiplier,
        )
        self.commissions += fill.commission
        self.last_fill[fill.symbol] = fill
        self.multipliers[fill.symbol] = fill.multiplier

        book = self.lots.setdefault(fill.symbol, deque())
        remaining = fill.signed_quantity
        closed: list[ClosedTrade] = []
        while remaining and book and (book[0].quantity > 0) != (remaining > 0):
            lot = book[0]
            matched = min(abs(lot.quantity), abs(remaining))
            direction = LONG if lot.quantity > 0 else SHORT
            trade = ClosedTrade(entry=lot.fill, exit=fill, quantity=matched, direction=direction)
            closed.append(trade)
            self.realized_gross += trade.gross_pnl
            step = matched if lot.quantity > 0 else -matched
            lot.quantity -= step
            remaining += step
            if not lot.quantity:
                book.popleft()
        if remaining:
            book.append(Lot(fill=fill, quantity=remaining))
        if not book:
            del self.lots[fill.symbol]
        return closed

    def apply_all(self, fills: Iterable[LedgerFill]) -> list[ClosedTrade]:
        closed: list[ClosedTrade] = []
        for fill in fills:
            closed.extend(self.apply(fill))
        return closed

    def position(self, symbol: str) -> Decimal:
        return sum((lot.quantity for lot in self.lots.get(symbol, ())), ZERO)

    def open_symbols(self) -> list[str]:
        return sorted(self.lots)

    def market_value(self, marks: Mapping[str, Decimal]) -> Decimal:
        return sum(
            (self.position(symbol) * marks[symbol] * self.multipliers[symbol] for symbol in self.lots), ZERO
        )

    def unrealized(self, marks: Mapping[str, Decimal]) -> Decimal:
        """Open lots marked at ``marks`` against their own entry prices (FIFO cost basis)."""
        return sum(
            (
                (marks[symbol] - lot.fill.price) * lot.quantity * lot.fill.multiplier
                for symbol, book in self.lots.items()
                for lot in book
            ),
            ZERO,
        )
