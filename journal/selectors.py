"""Journal reads: scoped lists with paging and filters, the vocabulary, the week's aggregates."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Q, QuerySet

from alphaloop.scoping import owned_by
from journal.facts import journal_facts
from journal.models import JournalTag, TradeJournal

FOUR_PLACES = Decimal("0.0001")
UNRECORDED = "unrecorded"


def journals_for_user(user, *, account=None) -> QuerySet:
    journals = owned_by(TradeJournal.objects.select_related("account", "plan"), user)
    if account is not None:
        journals = journals.filter(account=account)
    return journals


def journal_list(*, journals: QuerySet, symbol: str | None = None, status: str | None = None) -> QuerySet:
    """``journals`` filtered, newest first."""
    if symbol:
        journals = journals.filter(symbol=symbol.upper())
    if status:
        journals = journals.filter(journal_status=status)
    return journals.order_by("-created_at", "-id")


def journal_tags_for(user) -> QuerySet:
    """The built-in vocabulary plus the user's own tags, retired ones included (they say so)."""
    return JournalTag.objects.filter(Q(user__isnull=True) | Q(user=user)).order_by("kind", "name")


def tag_names(user, kind: str) -> set[str]:
    """The names the user may tag with now: their vocabulary without the retired tags."""
    return set(journal_tags_for(user).filter(kind=kind, retired_at__isnull=True).values_list("name", flat=True))


def iso_week(day: dt.date) -> tuple[dt.date, dt.date]:
    monday = day - dt.timedelta(days=day.isoweekday() - 1)
    return monday, monday + dt.timedelta(days=6)


def _rate(part: int, whole: int) -> Decimal | None:
    return (Decimal(part) / Decimal(whole)).quantize(FOUR_PLACES, rounding=ROUND_HALF_UP) if whole else None


def _trade_row(journal: TradeJournal, facts: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": journal.pk,
        "symbol": journal.symbol,
        "direction": journal.direction,
        "exit_date": journal.exit_date,
        "realized_pnl": journal.realized_pnl,
        "r_multiple": facts["r_multiple"],
        "emotion_state": journal.emotion_state,
        "mistake_tags": facts["mistake_tags"],
        "plan_followed": facts["plan_adherence"]["followed"] if facts["plan_adherence"] else None,
        "lesson_learned": facts["lesson_learned"],
    }


def journal_week_summary(*, journals: QuerySet, day: dt.date) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Aggregates of the trades closed (``exit_date``) in the ISO week of ``day``, and the trades themselves.

    Win rate counts wins over trades with a P&L; ``emotions`` groups the trades
    by the emotion recorded (``unrecorded`` when none); ``plan_adherence`` is
    over the trades that had a plan (see ``journal.facts.plan_adherence``).
    """
    start, end = iso_week(day)
    week = list(journals.filter(exit_date__range=(start, end)).order_by("exit_date", "id"))
    trades = [_trade_row(j, journal_facts(j, with_indicators=False)) for j in week]
    with_pnl = [t for t in trades if t["realized_pnl"] is not None]
    wins = sum(1 for t in with_pnl if t["realized_pnl"] > 0)
    losses = sum(1 for t in with_pnl if t["realized_pnl"] < 0)
    ranked = sorted(with_pnl, key=lambda t: (t["realized_pnl"], t["id"]))

    mistakes: dict[str, dict[str, Any]] = {}
    for trade in trades:
        for tag in trade["mistake_tags"]:
            row = mistakes.setdefault(tag, {"tag": tag, "count": 0, "pnl": Decimal("0")})
            row["count"] += 1
            row["pnl"] += trade["realized_pnl"] or Decimal("0")

    emotions: dict[str, dict[str, Any]] = {}
    for trade in trades:
        name = trade["emotion_state"] or UNRECORDED
        row = emotions.setdefault(name, {"emotion": name, "trades": 0, "wins": 0, "pnl": Decimal("0")})
        row["trades"] += 1
        row["wins"] += 1 if (trade["realized_pnl"] or 0) > 0 else 0
        row["pnl"] += trade["realized_pnl"] or Decimal("0")
    for row in emotions.values():
        row["win_rate"] = _rate(row["wins"], row["trades"])

    planned = [t for t in trades if t["plan_followed"] is not None]
    followed = [t for t in planned if t["plan_followed"]]
    r_values = [t["r_multiple"] for t in trades if t["r_multiple"] is not None]

    def pnl_of(rows: list[dict[str, Any]]) -> Decimal:
        return sum((t["realized_pnl"] or Decimal("0") for t in rows), Decimal("0"))

    summary = {
        "week_start": start,
        "week_end": end,
        "trades": len(trades),
        "wins": wins,
        "losses": losses,
        "win_rate": _rate(wins, len(with_pnl)),
        "total_pnl": pnl_of(trades),
        "average_r": (sum(r_values, Decimal("0")) / len(r_values)).quantize(Decimal("0.01")) if r_values else None,
        "best_trade": _brief(ranked[-1]) if ranked else None,
        "worst_trade": _brief(ranked[0]) if ranked else None,
        "mistakes": sorted(mistakes.values(), key=lambda m: (-m["count"], m["tag"])),
        "emotions": sorted(emotions.values(), key=lambda e: (-e["trades"], e["emotion"])),
        "plan_adherence": {
            "with_plan": len(planned),
            "followed": len(followed),
            "rate": _rate(len(followed), len(planned)),
            "pnl_followed": pnl_of(followed),
            "pnl_not_followed": pnl_of([t for t in planned if not t["plan_followed"]]),
        },
    }
    return summary, trades


def _brief(trade: dict[str, Any]) -> dict[str, Any]:
    return {key: trade[key] for key in ("id", "symbol", "realized_pnl", "exit_date")}
