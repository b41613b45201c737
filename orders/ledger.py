"""Pure position and cash arithmetic of one fill (no database): the ledger rules in one place.

Rounding (written down because users reconcile against it):

- prices and quantities are kept to 6 decimal places (the columns' precision);
- every money amount (a fill's notional, commission, realized P&L) is rounded to the cent,
  half up, once per fill, and cash moves by exactly ``notional +/- commission``;
- a position carries its cost basis in cents (the cash paid to open what is held, negative for
  a short); average cost is that basis per unit, to 6 places, for display. Closing part of a
  position realizes notional minus the same share of the basis, so that at every moment
  ``cash == initial cash + realized P&L - commissions - cost basis held`` to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from alphaloop.money import PRICE_PLACES, ZERO, money, price_round

BPS = Decimal("10000")


def notional(quantity: Decimal, price: Decimal, multiplier: int = 1) -> Decimal:
    """The cash value of ``quantity`` at ``price`` in cents."""
    return money(quantity * price * multiplier)


def adverse_price(price: Decimal, side: str, slippage_bps: Decimal) -> Decimal:
    """``price`` moved against the trader by ``slippage_bps``; sub-tick rounding is also adverse."""
    if side == "BUY":
        return (price * (1 + slippage_bps / BPS)).quantize(PRICE_PLACES, rounding=ROUND_CEILING)
    return (price * (1 - slippage_bps / BPS)).quantize(PRICE_PLACES, rounding=ROUND_FLOOR)


def order_commission(filled_quantity: Decimal, per_share: Decimal, minimum: Decimal) -> Decimal:
    """Total commission of an order that has filled ``filled_quantity``: per share, with a minimum per order.

    A partially filled order pays the minimum on its first fill and per-share beyond it, so the
    sum over its fills equals the commission of one fill of the whole quantity.
    """
    if filled_quantity <= 0:
        return ZERO
    return money(max(filled_quantity * per_share, minimum))


def fill_commission(*, already_filled: Decimal, quantity: Decimal, per_share: Decimal, minimum: Decimal) -> Decimal:
    """The commission this fill adds to its order."""
    return order_commission(already_filled + quantity, per_share, minimum) - order_commission(already_filled, per_share, minimum)


def cash_delta(*, side: str, quantity: Decimal, price: Decimal, commission: Decimal, multiplier: int = 1) -> Decimal:
    """How a fill moves cash: a buy pays notional + commission, a sell receives notional - commission."""
    value = notional(quantity, price, multiplier)
    return (-value if side == "BUY" else value) - commission


@dataclass(frozen=True)
class PositionChange:
    quantity: Decimal  # signed quantity after the fill
    cost_basis: Decimal  # signed cash paid to open what is left, in cents (negative for a short)
    avg_cost: Decimal  # cost_basis / (quantity x multiplier), 6 places (0 when flat)
    realized_pnl: Decimal  # P&L this fill closed, before commission, in cents
    closed_quantity: Decimal  # how much of the old position the fill closed (unsigned)


def average_cost(cost_basis: Decimal, quantity: Decimal, multiplier: int = 1) -> Decimal:
    return price_round(cost_basis / (quantity * multiplier)) if quantity else ZERO


def position_apply(
    *, quantity: Decimal, cost_basis: Decimal, side: str, fill_quantity: Decimal, price: Decimal, multiplier: int = 1
) -> PositionChange:
    """The position after one fill. ``quantity`` is signed (short < 0); ``fill_quantity`` is positive.

    Cost is carried in cents so that, fill after fill, cash = initial cash + realized P&L
    - commissions - cost basis of what is held, exactly: closing part of a position removes
    the same share of its cost basis (rounded to the cent; closing all of it removes all of it),
    and a fill that flips the position splits its notional into the closing part and the rest.
    """
    buy = side == "BUY"
    signed = fill_quantity if buy else -fill_quantity
    new_quantity = quantity + signed
    value = notional(fill_quantity, price, multiplier)
    if quantity == 0 or (quantity > 0) == buy:
        # Opening or adding on the same side.
        new_basis = cost_basis + (value if buy else -value)
        return PositionChange(new_quantity, new_basis, average_cost(new_basis, new_quantity, multiplier), ZERO, ZERO)
    held = abs(quantity)
    closed = min(held, fill_quantity)
    closing_value = notional(closed, price, multiplier) if closed < fill_quantity else value
    removed = cost_basis if closed == held else money(cost_basis * closed / held)
    cash_flow = -closing_value if buy else closing_value
    realized = cash_flow - removed
    new_basis = cost_basis - removed
    if fill_quantity > closed:
        # Flipped through zero: the rest of the fill opens the other side.
        opening_value = value - closing_value
        new_basis = opening_value if buy else -opening_value
    return PositionChange(new_quantity, new_basis, average_cost(new_basis, new_quantity, multiplier), realized, closed)
