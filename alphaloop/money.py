"""Money, price and quantity quanta and their rounding: the one place every app takes them from.

Prices and quantities are kept to 6 decimal places (the columns' precision); every money amount is rounded
to the cent, half up. Display rounding (what a trader reads) is separate from storage rounding.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
PRICE_PLACES = Decimal("0.000001")
QUANTITY_PLACES = Decimal("0.000001")
RATIO_PLACES = Decimal("0.000001")
SUB_DOLLAR_TICK = Decimal("0.0001")
ZERO = Decimal("0")


def money(value: Decimal) -> Decimal:
    """Round a money amount to the cent, half up."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def price_round(value: Decimal) -> Decimal:
    """Round a price to the stored 6 places, half up."""
    return value.quantize(PRICE_PLACES, rounding=ROUND_HALF_UP)


def ratio(value: Decimal) -> Decimal:
    """Round a fraction (a return, a weight) to 6 places, half up."""
    return value.quantize(RATIO_PLACES, rounding=ROUND_HALF_UP)


def price_display(price: Decimal | str) -> str:
    """A price as a trader reads it: to the cent, or to the $0.0001 tick below one dollar."""
    price = Decimal(price)
    return f"{price.quantize(CENT if abs(price) >= 1 else SUB_DOLLAR_TICK):f}"


def quantity_display(quantity: Decimal | str) -> str:
    """A quantity without trailing zeros: ``5.000000`` reads ``5``, ``0.500000`` reads ``0.5``."""
    return f"{Decimal(quantity).normalize():f}"


PERCENT_PLACES = Decimal("0.0001")


def percent(fraction: Decimal | None, places: Decimal = PERCENT_PLACES) -> Decimal | None:
    """A fraction in percent (0.201 -> 20.1000), half up: the API's unit rule, ``*_pct`` fields are percent."""
    return None if fraction is None else (fraction * 100).quantize(places, rounding=ROUND_HALF_UP)
