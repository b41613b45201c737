"""Review texts: the LLM prompts, and the deterministic rule-based reviews used without an LLM.

Both read the same facts (``journal.facts``), so switching the LLM on or off
changes the prose, never the numbers it is about.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

RULE_BASED_LABEL = "Rule-based review (no LLM configured)"
RULE_BASED_WEEKLY_LABEL = "Rule-based weekly report (no LLM configured)"

REVIEW_SYSTEM_PROMPT = (
    "You are a trading coach reviewing one closed trade of a self-directed trader. "
    "Judge the process, not only the outcome. Use only the facts given; do not invent prices or news. "
    "Answer in plain text with four short sections: Outcome, Plan adherence, What went well, What to change. "
    "Refer to the trader's own notes and lesson where they are relevant. Keep it under 250 words."
)
WEEKLY_SYSTEM_PROMPT = (
    "You are a trading coach writing a weekly review for a self-directed trader. "
    "Use only the aggregated facts and trades given. Answer in plain text: a summary paragraph, the two or three "
    "patterns that mattered most (mistakes, emotions, plan adherence), and three concrete rules for next week. "
    "Keep it under 300 words."
)

MISTAKE_ADVICE = {
    "sell_fly": "Let the plan's target or a trailing stop take you out instead of a feeling.",
    "chase_high": "Wait for a pullback to the planned entry; skip the trade if it never comes.",
    "no_stop": "Place the stop with the entry order, every time.",
    "oversize": "Size from the stop distance: risk a fixed fraction of equity per trade.",
    "early_exit": "Exit on the stop or the target; write down why before any discretionary exit.",
    "late_entry": "Use a limit or stop order at the planned level instead of entering by hand later.",
    "ignored_plan": "Trade only what the plan says, or change the plan before the trade, not during it.",
    "revenge_trade": "After a loss, pause before the next trade and check it against the plan.",
}
RISKY_EMOTIONS = {"anxious", "revenge", "fomo", "greedy", "fearful"}


def _json(data: Any) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, indent=1, sort_keys=True)


def review_messages(facts: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": REVIEW_SYSTEM_PROMPT},
        {"role": "user", "content": "Review this trade. Facts (JSON):\n" + _json(facts)},
    ]


def weekly_messages(report: dict[str, Any], trades: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": WEEKLY_SYSTEM_PROMPT},
        {
            "role": "user",
            "content": "Week summary (JSON):\n" + _json(report) + "\n\nTrades of the week (JSON):\n" + _json(trades),
        },
    ]


def _pct(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def _money(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _indicator_notes(indicators: dict[str, Any] | None, direction: str) -> list[str]:
    entry = (indicators or {}).get("entry") or {}
    notes = []
    rsi = entry.get("rsi_14")
    if rsi is not None:
        if direction == "LONG" and rsi >= 70:
            notes.append(f"Bought with RSI-14 at {rsi:.1f} (overbought): a stretched entry.")
        elif direction == "SHORT" and rsi <= 30:
            notes.append(f"Shorted with RSI-14 at {rsi:.1f} (oversold): a stretched entry.")
        else:
            notes.append(f"RSI-14 at entry was {rsi:.1f}.")
    distance = entry.get("sma_50_distance")
    if distance is not None:
        side = "above" if distance >= 0 else "below"
        notes.append(f"Entry price was {abs(distance) * 100:.1f}% {side} the 50-day average.")
    macd = entry.get("macd_hist")
    if macd is not None:
        with_trend = (macd > 0) == (direction == "LONG")
        notes.append(f"MACD histogram at entry {macd:+.4f}: momentum {'with' if with_trend else 'against'} the trade.")
    return notes


def rule_based_review(facts: dict[str, Any]) -> str:
    """A deterministic review from the facts: same input, same text."""
    lines = [RULE_BASED_LABEL, ""]
    pnl = facts["realized_pnl"]
    held = facts["holding_days"]
    lines.append(
        f"Outcome: {facts['outcome']} on {facts['direction']} {facts['symbol']}, P&L {_money(pnl)}"
        f" ({_pct(facts['trade_return'])}), held {held if held is not None else 'n/a'} day(s)."
    )
    r = facts["r_multiple"]
    adherence = facts["plan_adherence"]
    if adherence is None:
        lines.append("Plan: none. Trades without a written plan cannot be judged against a stop or a target.")
    else:
        parts = [f"R multiple {r}" if r is not None else "no R multiple (no planned stop)"]
        parts.append("direction as planned" if adherence["direction_matches"] else "direction AGAINST the plan")
        if adherence["stop_respected"] is False:
            parts.append("loss beyond the planned stop")
        if adherence["target_reached"]:
            parts.append("target reached")
        elif adherence["target_reached"] is False:
            parts.append("exited before the target")
        if adherence["entry_slippage"] is not None:
            parts.append(f"entry {_pct(adherence['entry_slippage'])} from the planned price")
        verdict = "Plan followed" if adherence["followed"] else "Plan NOT followed"
        lines.append(f"{verdict}: " + "; ".join(parts) + ".")
    signal = facts["signal"]
    if signal:
        lines.append(
            f"Signal: {signal['direction']} strength {signal['strength']}, historical win rate {signal['win_rate']}"
            f" and reward/risk {signal['rr_ratio']} over {signal['sample_size']} cases."
        )
    lines.extend(_indicator_notes(facts["indicators"], facts["direction"]))
    emotion = facts["emotion_state"]
    if emotion:
        warning = " A state that often leads to impulsive decisions." if emotion in RISKY_EMOTIONS else ""
        lines.append(f"Emotion: {emotion}.{warning}")
    if facts["execution_quality"] is not None:
        lines.append(f"Self-rated execution: {facts['execution_quality']}/5.")
    mistakes = facts["mistake_tags"]
    if mistakes:
        lines.append("Mistakes: " + ", ".join(mistakes) + ".")
    if facts["lesson_learned"]:
        lines.append(f"Your lesson: {facts['lesson_learned']}")
    if facts["notes"]:
        lines.append(f"Your notes: {facts['notes']}")
    advice = [MISTAKE_ADVICE[m] for m in mistakes if m in MISTAKE_ADVICE]
    if adherence is None:
        advice.append("Write a plan with entry, stop and target before the next trade.")
    elif not adherence["followed"] and not advice:
        advice.append("Check the order against the plan before sending it.")
    if emotion in RISKY_EMOTIONS:
        advice.append(f"When you notice feeling {emotion}, halve the size or skip the trade.")
    if not advice:
        advice.append("Keep doing what you did: the process matched the plan.")
    lines.append("")
    lines.append("Next time:")
    lines.extend(f"- {item}" for item in advice)
    return "\n".join(lines)


def rule_based_weekly(report: dict[str, Any]) -> str:
    lines = [RULE_BASED_WEEKLY_LABEL, ""]
    trades = report["trades"]
    if not trades:
        lines.append(f"No closed trades in the week {report['week_start']} to {report['week_end']}.")
        return "\n".join(lines)
    lines.append(
        f"{trades} closed trade(s), P&L {_money(report['total_pnl'])}, win rate {_pct(report['win_rate'])}"
        f" ({report['wins']} won, {report['losses']} lost)."
    )
    if report["best_trade"]:
        best, worst = report["best_trade"], report["worst_trade"]
        lines.append(
            f"Best: {best['symbol']} {_money(best['realized_pnl'])}."
            f" Worst: {worst['symbol']} {_money(worst['realized_pnl'])}."
        )
    adherence = report["plan_adherence"]
    if adherence["with_plan"]:
        lines.append(
            f"Plan adherence: {adherence['followed']} of {adherence['with_plan']} planned trade(s) followed the plan"
            f" ({_pct(adherence['rate'])}); P&L when followed {_money(adherence['pnl_followed'])},"
            f" when not {_money(adherence['pnl_not_followed'])}."
        )
    else:
        lines.append("No trade this week had a written plan.")
    if report["mistakes"]:
        top = report["mistakes"][0]
        listed = ", ".join(f"{m['tag']} x{m['count']}" for m in report["mistakes"])
        lines.append(f"Mistakes: {listed}. Most frequent: {top['tag']} (P&L {_money(top['pnl'])}).")
    costly = [e for e in report["emotions"] if e["emotion"] in RISKY_EMOTIONS and e["pnl"] < 0]
    for emotion in report["emotions"]:
        lines.append(
            f"Emotion {emotion['emotion']}: {emotion['trades']} trade(s), win rate {_pct(emotion['win_rate'])},"
            f" P&L {_money(emotion['pnl'])}."
        )
    rules = [MISTAKE_ADVICE[m["tag"]] for m in report["mistakes"][:2] if m["tag"] in MISTAKE_ADVICE]
    rules += [
        f"Trades taken feeling {e['emotion']} lost money: pause before trading in that state." for e in costly[:1]
    ]
    if adherence["with_plan"] < trades:
        rules.append("Write a plan (entry, stop, target) for every trade.")
    if not rules:
        rules.append("Keep the same process next week.")
    lines.append("")
    lines.append("Rules for next week:")
    lines.extend(f"- {rule}" for rule in rules)
    return "\n".join(lines)
