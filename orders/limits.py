"""The pre-trade limits beside the spec's four, read from settings in one place.

======================  ==========  ============================================================
setting                 default     meaning (0 turns the check off)
======================  ==========  ============================================================
MAX_ORDER_QUANTITY      100000      most shares/contracts one order may ask for
MAX_ORDER_VALUE         1000000     most one order may be worth in dollars (quantity x the
                                    guard's reference price)
PRICE_BAND_WARN_PCT     0.03        a limit price more than this fraction through the
                                    reference price is accepted with a ``price_band`` warning
PRICE_BAND_REFUSE_PCT   0.10        ... and more than this fraction through it is refused
======================  ==========  ============================================================

The settings are fractions like ``MAX_SINGLE_ORDER_PCT`` (0.03 = 3%). A bad value fails loudly
(``ImproperlyConfigured`` naming the setting) on the first order instead of trading unguarded.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS = {
    "MAX_ORDER_QUANTITY": Decimal("100000"),
    "MAX_ORDER_VALUE": Decimal("1000000"),
    "PRICE_BAND_WARN_PCT": Decimal("0.03"),
    "PRICE_BAND_REFUSE_PCT": Decimal("0.10"),
}


@dataclass(frozen=True)
class PreTradeLimits:
    max_order_quantity: Decimal
    max_order_value: Decimal
    price_band_warn_pct: Decimal
    price_band_refuse_pct: Decimal


def _setting(name: str) -> Decimal:
    raw = getattr(settings, name, DEFAULTS[name])
    try:
        value = raw if isinstance(raw, Decimal) else Decimal(str(raw))
    except (InvalidOperation, ValueError):
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if isinstance(raw, bool) or not value.is_finite() or value < 0:
        raise ImproperlyConfigured(f"{name} must be a number >= 0, got {raw!r}")
    return value


def pretrade_limits() -> PreTradeLimits:
    """The configured limits (read on every call, so tests and a settings reload take effect at once)."""
    limits = PreTradeLimits(
        max_order_quantity=_setting("MAX_ORDER_QUANTITY"),
        max_order_value=_setting("MAX_ORDER_VALUE"),
        price_band_warn_pct=_setting("PRICE_BAND_WARN_PCT"),
        price_band_refuse_pct=_setting("PRICE_BAND_REFUSE_PCT"),
    )
    for name, value in (("PRICE_BAND_WARN_PCT", limits.price_band_warn_pct), ("PRICE_BAND_REFUSE_PCT", limits.price_band_refuse_pct)):
        if value >= 1:
            raise ImproperlyConfigured(f"{name} is a fraction (0.03 = 3%) and must be below 1, got {value}")
    if limits.price_band_refuse_pct and limits.price_band_warn_pct > limits.price_band_refuse_pct:
        raise ImproperlyConfigured(
            f"PRICE_BAND_WARN_PCT ({limits.price_band_warn_pct}) must not exceed PRICE_BAND_REFUSE_PCT "
            f"({limits.price_band_refuse_pct})"
        )
    return limits
