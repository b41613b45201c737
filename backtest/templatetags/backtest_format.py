"""Number formats of the tearsheet: fractions as percent, money, ratios; a dash where a value is undefined."""

from __future__ import annotations

from django import template

register = template.Library()
DASH = "–"


@register.filter
def pct(value, digits: int = 2) -> str:
    """0.1234 -> "12.34%"."""
    return DASH if value is None else f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def signed_pct(value, digits: int = 1) -> str:
    return DASH if value is None else f"{float(value) * 100:+.{int(digits)}f}%"


@register.filter
def money(value) -> str:
    if value is None:
        return DASH
    value = float(value)
    return f"{'-' if value < 0 else ''}${abs(value):,.2f}"


@register.filter
def num(value, digits: int = 2) -> str:
    return DASH if value is None else f"{float(value):.{int(digits)}f}"


@register.filter
def heat(value) -> str:
    """A background colour for a monthly return: green for gains, red for losses, paler when small."""
    if value is None:
        return "transparent"
    strength = min(abs(float(value)) / 0.08, 1.0)
    return f"rgba(38, 166, 154, {0.15 + 0.6 * strength:.2f})" if value > 0 else f"rgba(239, 83, 80, {0.15 + 0.6 * strength:.2f})"


@register.filter
def get(mapping, key):
    return None if mapping is None else mapping.get(key)
