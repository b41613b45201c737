"""The facts of one journal entry, as the AI review and the weekly report see them.

One function builds them for both the LLM prompt and the rule-based review, so
the two always judge the same numbers. Plan adherence is defined here:

* ``direction_matches``: the trade went the plan's way;
* ``stop_respected``: the loss was no worse than 1.1 R (the planned stop plus
  10% of the risk for slippage); null without a planned stop;
* ``target_reached``: the exit was at or beyond the planned target;
* ``entry_slippage``: how much worse than the planned entry the fill was, a fraction
  (positive = paid more for a long / sold lower for a short);
* ``followed``: direction matched, the stop was respected (or none was
  planned) and the trader did not tag ``ignored_plan`` or ``no_stop``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from journal.context import plan_context, signal_context, trade_indicators
from journal.models import TradeJournal

STOP_TOLERANCE_R = Decimal("-1.1")
PLAN_BREAKING_MISTAKES = {"ignored_plan", "no_stop"}
FOUR_PLACES = Decimal("0.0001")


def _decimal(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def outcome(pnl: Decimal | None) -> str:
    if pnl is None:
        return "open"
    if pnl > 0:
        return "win"
    if pnl < 0:
        return "loss"
    return "breakeven"


def plan_adherence(plan: dict[str, Any] | None, *, direction: str, entry_price: Decimal | None,
                   exit_price: Decimal | None, mistakes: list[str]) -> dict[str, Any] | None:
    if not plan:
        return None
    sign = 1 if direction == "LONG" else -1
    r = _decimal(plan.get("r_multiple"))
    stop_respected = None if plan.get("stop") is None or r is None else r >= STOP_TOLERANCE_R
    target = _decimal(plan.get("target"))
    target_reached = None
    if target is not None and exit_price is not None:
        target_reached = sign * (exit_price - target) >= 0
    planned_entry = _decimal(plan.get("entry"))
    slippage = None
    if planned_entry and entry_price is not None:
        slippage = (sign * (entry_price - planned_entry) / planned_entry).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
    direction_matches = plan.get("direction") == direction
    followed = (
        direction_matches and stop_respected is not False and not PLAN_BREAKING_MISTAKES.intersection(mistakes)
    )
    return {
        "direction_matches": direction_matches,
        "stop_respected": stop_respected,
        "target_reached": target_reached,
        "entry_slippage": slippage,
        "followed": followed,
    }


def journal_facts(journal: TradeJournal, *, with_indicators: bool = True) -> dict[str, Any]:
    """Everything the review is allowed to know about the trade, the trader's own words included.

    Entries drafted from fills carry their context; for entries typed in by
    hand the plan, signal and (optionally) indicators are looked up now.
    """
    context = journal.context or {}
    mistakes = list(journal.mistake_tags or [])
    plan = context.get("plan") or plan_context(
        journal.plan, direction=journal.direction, entry_price=journal.entry_price, exit_price=journal.exit_price
    )
    signal = context.get("signal") or signal_context(journal.plan)
    indicators = context.get("indicators")
    if indicators is None and with_indicators:
        indicators = trade_indicators(journal.symbol, journal.entry_date, journal.exit_date)
    holding_days = None
    if journal.entry_date and journal.exit_date:
        holding_days = (journal.exit_date - journal.entry_date).days
    trade_return = None
    if journal.entry_price and journal.exit_price is not None:
        sign = 1 if journal.direction == "LONG" else -1
        trade_return = sign * (journal.exit_price / journal.entry_price - 1)
        trade_return = trade_return.quantize(FOUR_PLACES, rounding=ROUND_HALF_UP)
    return {
        "journal_id": journal.pk,
        "symbol": journal.symbol,
        "direction": journal.direction,
        "entry_date": journal.entry_date,
        "exit_date": journal.exit_date,
        "holding_days": holding_days,
        "entry_price": journal.entry_price,
        "exit_price": journal.exit_price,
        "quantity": journal.quantity,
        "realized_pnl": journal.realized_pnl,
        "trade_return": trade_return,
        "outcome": outcome(journal.realized_pnl),
        "r_multiple": _decimal(plan.get("r_multiple")) if plan else None,
        "plan": plan,
        "plan_adherence": plan_adherence(
            plan, direction=journal.direction, entry_price=journal.entry_price, exit_price=journal.exit_price,
            mistakes=mistakes,
        ),
        "signal": signal,
        "indicators": indicators,
        "execution_quality": journal.execution_quality,
        "emotion_state": journal.emotion_state,
        "mistake_tags": mistakes,
        "lesson_learned": journal.lesson_learned or "",
        "notes": journal.notes or "",
    }
