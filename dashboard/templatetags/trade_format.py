"""Numbers on the server-rendered pages as a trader reads them: prices to the cent (the $0.0001 tick below
one dollar, ``alphaloop.money``'s display rounding, as the toasts and the Orders page show them), quantities without trailing zeros, money with
its sign, and a journal entry's stored context as labelled fields."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import template

from alphaloop.money import price_display, quantity_display

register = template.Library()
DASH = "–"


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@register.filter
def price(value: Any) -> str:
    """Decimal("29.650000") -> "$29.65"; Decimal("0.123400") -> "$0.1234"."""
    number = _decimal(value)
    if number is None:
        return DASH
    text = price_display(abs(number))
    whole, _, cents = text.partition(".")
    return f"{'-' if number < 0 else ''}${int(whole):,}.{cents}"


@register.filter
def quantity(value: Any) -> str:
    """Decimal("48.000000") -> "48"; Decimal("0.500000") -> "0.5"; Decimal("1200") -> "1,200"."""
    number = _decimal(value)
    if number is None:
        return DASH
    whole, _, fraction = quantity_display(abs(number)).partition(".")
    return f"{'-' if number < 0 else ''}{int(whole):,}" + (f".{fraction}" if fraction else "")


@register.filter
def money(value: Any) -> str:
    number = _decimal(value)
    return DASH if number is None else f"{'-' if number < 0 else ''}${abs(number):,.2f}"


def _percent(fraction: Any, digits: int = 2) -> str:
    number = _decimal(fraction)
    return DASH if number is None else f"{number * 100:+.{digits}f}%"


def _number(value: Any, digits: int = 2) -> str:
    number = _decimal(value)
    return DASH if number is None else f"{number:.{digits}f}"


def _plan(plan: dict) -> list[tuple[str, str]]:
    return [
        ("Plan", f"#{plan.get('id')} {plan.get('direction', '')}".strip()),
        ("Planned entry", price(plan.get("entry"))), ("Stop", price(plan.get("stop"))),
        ("Target", price(plan.get("target"))), ("Planned quantity", quantity(plan.get("quantity"))),
        ("Planned reward:risk", _number(plan.get("planned_rr"))), ("Result in R", _number(plan.get("r_multiple"))),
        ("Strategy", plan.get("strategy_tag") or DASH), ("Factor", plan.get("factor_tag") or DASH),
    ]


def _signal(signal: dict) -> list[tuple[str, str]]:
    factors = signal.get("factors") or {}
    named = ", ".join(
        f"{name} {_number(values.get('value'))} (z {_number(values.get('zscore'))})" if isinstance(values, dict)
        else f"{name} {values}" for name, values in factors.items()
    ) if isinstance(factors, dict) else ", ".join(map(str, factors))
    return [
        ("Signal", f"#{signal.get('id')} {signal.get('direction', '')} as of {signal.get('as_of', DASH)}"),
        ("Strength", _number(signal.get("strength"))),
        ("Win rate", DASH if signal.get("win_rate") is None else f"{Decimal(str(signal['win_rate'])) * 100:.0f}%"),
        ("Reward:risk", _number(signal.get("rr_ratio"))), ("Sample size", str(signal.get("sample_size", DASH))),
        ("Factors", named or DASH),
    ]


def _indicators(when: str, values: dict) -> list[tuple[str, str]]:
    return [
        (f"Indicators at {when}", f"as of {values.get('as_of') or DASH}"),
        ("Close", price(values.get("close"))), ("RSI 14", _number(values.get("rsi_14"), 1)),
        ("MACD histogram", _number(values.get("macd_hist"), 2)),
        ("Close vs 50-day average", _percent(values.get("sma_50_distance"))),
    ]


@register.filter
def context_sections(context: Any) -> list[list[tuple[str, str]]]:
    """A journal entry's stored context (plan, signal, indicators at entry and exit) as labelled rows."""
    if not isinstance(context, dict):
        return []
    sections = []
    if context.get("plan"):
        sections.append(_plan(context["plan"]))
    if context.get("signal"):
        sections.append(_signal(context["signal"]))
    for when in ("entry", "exit"):
        values = (context.get("indicators") or {}).get(when)
        if values and values.get("as_of"):
            sections.append(_indicators(when, values))
    return sections
