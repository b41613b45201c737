"""Journal writes: entries (by hand and drafted from closed trades), status flow, vocabulary, AI review.

Status flow. ``DRAFT -> COMPLETED`` when the trader has filled it in;
``COMPLETED -> DRAFT`` reopens it; ``COMPLETED -> REVIEWED`` marks it reviewed
by hand; ``REVIEWED -> COMPLETED`` reopens a reviewed entry after an edit. An
AI review (LLM or rule-based) moves an entry of any status to ``REVIEWED``.
Any other change of ``journal_status`` is refused with a 400 on that field.

Entries drafted from fills keep the trade's facts (dates, prices, quantity,
P&L, plan) as matched from the fills; only entries typed in by hand can change
them. Emotion states and mistake tags must be in the vocabulary: the built-in
``JournalTag`` rows (no owner) plus the user's own, not retired (an entry keeps the retired tags it
already carries).

Vocabulary. A user adds, renames and retires their own tags; the built-ins are shared, so only
staff rename or retire them. A rename rewrites every entry that carries the old name (the owner's
entries; every entry for a built-in), so lists and weekly reports keep counting it under one name.
A retired tag is no longer offered or accepted for new tagging and can be restored.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from alphaloop import bus
from alphaloop.audit import audit_log_create
from alphaloop.events import JournalDrafted
from alphaloop.exceptions import ApplicationError
from alphaloop.scoping import owned_by
from equity.models import TradePnlAttribution
from journal import llm
from journal.context import trade_context
from journal.facts import journal_facts
from journal.models import JournalTag, TradeJournal
from journal.review import (
    review_messages,
    rule_based_review,
    rule_based_weekly,
    weekly_messages,
)
from journal.selectors import journal_tags_for, journal_week_summary, tag_names
from orders.models import Account, TradingPlan

ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    TradeJournal.DRAFT: {TradeJournal.COMPLETED},
    TradeJournal.COMPLETED: {TradeJournal.DRAFT, TradeJournal.REVIEWED},
    TradeJournal.REVIEWED: {TradeJournal.COMPLETED},
}
REFLECTION_FIELDS = ("execution_quality", "emotion_state", "mistake_tags", "lesson_learned", "notes")
TRADE_FIELDS = (
    "symbol", "direction", "entry_date", "exit_date", "entry_price", "exit_price", "quantity", "realized_pnl",
)


def vocabulary_validate(
    *, user, emotion_state: str | None = None, mistake_tags: list[str] | None = None, journal: TradeJournal | None = None
) -> None:
    """Raise a field-keyed ``ValidationError`` for an emotion or mistake tag the user's vocabulary lacks.

    Retired tags are refused for new tagging; an entry (``journal``) keeps the ones it already carries.
    """
    errors: dict[str, list[str]] = {}
    if emotion_state and not (journal is not None and emotion_state == journal.emotion_state):
        known = tag_names(user, JournalTag.EMOTION)
        if emotion_state not in known:
            errors["emotion_state"] = [
                f"'{emotion_state}' is not an emotion state; known: {', '.join(sorted(known))}."
            ]
    if mistake_tags:
        known = tag_names(user, JournalTag.MISTAKE) | set((journal.mistake_tags or []) if journal is not None else [])
        unknown = [tag for tag in mistake_tags if tag not in known]
        if unknown:
            errors["mistake_tags"] = [
                f"Unknown mistake tag(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}."
            ]
    if errors:
        raise ValidationError(errors)


def _check_dates(entry_date: dt.date | None, exit_date: dt.date | None) -> None:
    if entry_date and exit_date and exit_date < entry_date:
        raise ValidationError({"exit_date": ["exit_date must be on or after entry_date."]})


def _check_plan(account: Account, plan: TradingPlan | None) -> None:
    if plan is not None and plan.account_id != account.pk:
        raise ValidationError({"plan_id": ["No such plan in this account."]})


def _unique_mistakes(tags: list[str] | None) -> list[str] | None:
    return None if tags is None else list(dict.fromkeys(tags))


@transaction.atomic
def journal_create(
    *,
    account: Account,
    user,
    symbol: str,
    direction: str,
    entry_date: dt.date | None = None,
    exit_date: dt.date | None = None,
    entry_price: Decimal | None = None,
    exit_price: Decimal | None = None,
    quantity: Decimal | None = None,
    realized_pnl: Decimal | None = None,
    plan: TradingPlan | None = None,
    execution_quality: int | None = None,
    emotion_state: str | None = None,
    mistake_tags: list[str] | None = None,
    lesson_learned: str | None = None,
    notes: str = "",
    ip_address: str | None = None,
) -> TradeJournal:
    """A journal entry typed in by the trader (status DRAFT)."""
    vocabulary_validate(user=user, emotion_state=emotion_state, mistake_tags=mistake_tags)
    _check_dates(entry_date, exit_date)
    _check_plan(account, plan)
    journal = TradeJournal.objects.create(
        account=account,
        symbol=symbol.upper(),
        direction=direction,
        entry_date=entry_date,
        exit_date=exit_date,
        entry_price=entry_price,
        exit_price=exit_price,
        quantity=quantity,
        realized_pnl=realized_pnl,
        plan=plan,
        execution_quality=execution_quality,
        emotion_state=emotion_state or None,
        mistake_tags=_unique_mistakes(mistake_tags),
        lesson_learned=lesson_learned,
        notes=notes,
    )
    audit_log_create(
        action="journal.create",
        resource=f"journal:{journal.pk}",
        user=user,
        ip_address=ip_address,
        payload={"account_id": account.pk, "symbol": journal.symbol, "direction": direction},
    )
    return journal


@transaction.atomic
def journal_update(*, journal: TradeJournal, user, data: dict[str, Any], ip_address: str | None = None) -> TradeJournal:
    """PATCH semantics: only the keys in ``data`` change (``plan`` is a TradingPlan or None).

    See the module docstring for the status flow and which fields are locked.
    """
    journal = TradeJournal.objects.select_for_update().get(pk=journal.pk)
    data = dict(data)
    if journal.attribution_id is not None:
        locked = sorted("plan_id" if name == "plan" else name for name in data if name in (*TRADE_FIELDS, "plan"))
        if locked:
            raise ValidationError({name: ["Set from the trade's fills; it cannot be edited."] for name in locked})
    vocabulary_validate(
        user=user, emotion_state=data.get("emotion_state"), mistake_tags=data.get("mistake_tags"), journal=journal
    )
    _check_dates(data.get("entry_date", journal.entry_date), data.get("exit_date", journal.exit_date))
    if "plan" in data:
        _check_plan(journal.account, data["plan"])

    status = data.pop("journal_status", journal.journal_status)
    if status != journal.journal_status and status not in ALLOWED_TRANSITIONS[journal.journal_status]:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[journal.journal_status]))
        raise ValidationError(
            {"journal_status": [f"Cannot go from {journal.journal_status} to {status}; allowed: {allowed}."]}
        )
    if "mistake_tags" in data:
        data["mistake_tags"] = _unique_mistakes(data["mistake_tags"])
    if "symbol" in data:
        data["symbol"] = data["symbol"].upper()
    if "emotion_state" in data:
        data["emotion_state"] = data["emotion_state"] or None

    changed: dict[str, Any] = {}
    for name, value in data.items():
        if getattr(journal, name) != value:
            setattr(journal, name, value)
            changed[name] = value.pk if isinstance(value, TradingPlan) else value
    if status != journal.journal_status:
        journal.journal_status = changed["journal_status"] = status
    if changed:
        journal.save(update_fields=[*changed, "updated_at"])
        audit_log_create(
            action="journal.update", resource=f"journal:{journal.pk}", user=user, ip_address=ip_address, payload=changed
        )
    return journal


def journal_draft_from_attribution(*, attribution: TradePnlAttribution, notify: bool = True) -> TradeJournal:
    """The DRAFT entry of a closed trade, with its context snapshot. Idempotent per attribution.

    Runs inside the attribution's transaction (the ``TradeClosed`` subscriber ``journal.draft``);
    the ``journal_draft`` notification (when ``notify``) goes out once that commits.
    """
    existing = TradeJournal.objects.filter(attribution=attribution).first()
    if existing is not None:
        return existing
    plan = TradingPlan.objects.select_related("signal").filter(pk=attribution.plan_id).first()
    journal = TradeJournal.objects.create(
        account=attribution.account,
        symbol=attribution.symbol,
        direction=attribution.direction,
        entry_date=attribution.entry_date,
        exit_date=attribution.trade_date,
        entry_price=attribution.entry_price,
        exit_price=attribution.exit_price,
        quantity=attribution.quantity,
        realized_pnl=attribution.realized_pnl,
        plan=plan,
        attribution=attribution,
        context=trade_context(
            symbol=attribution.symbol,
            direction=attribution.direction,
            plan=plan,
            entry_date=attribution.entry_date,
            exit_date=attribution.trade_date,
            entry_price=attribution.entry_price,
            exit_price=attribution.exit_price,
        ),
    )
    audit_log_create(
        action="journal.draft",
        resource=f"journal:{journal.pk}",
        payload={"attribution_id": attribution.pk, "symbol": journal.symbol, "realized_pnl": journal.realized_pnl},
    )
    if notify:
        bus.publish(JournalDrafted(account_id=journal.account_id, journal_id=journal.pk, symbol=journal.symbol,
                                   direction=journal.direction, realized_pnl=journal.realized_pnl))
    return journal


def journal_ai_review(*, journal_id: int, user=None, ip_address: str | None = None) -> TradeJournal:
    """Review the entry with the LLM (or by rules without an API key) and store it; status becomes REVIEWED.

    The LLM is called outside any transaction; if it fails (``llm.LLMError``:
    503 unavailable / 502 bad response) the entry is left exactly as it was.
    """
    journal = TradeJournal.objects.select_related("plan__signal").get(pk=journal_id)
    facts = journal_facts(journal)
    if llm.llm_configured():
        text, source = llm.chat_complete(review_messages(facts)), "llm"
    else:
        text, source = rule_based_review(facts), "rule_based"
    with transaction.atomic():
        journal = TradeJournal.objects.select_for_update().get(pk=journal_id)
        journal.ai_review = text
        journal.ai_review_source = source
        journal.journal_status = TradeJournal.REVIEWED
        journal.save(update_fields=["ai_review", "ai_review_source", "journal_status", "updated_at"])
        audit_log_create(
            action="journal.ai_review",
            resource=f"journal:{journal.pk}",
            user=user,
            ip_address=ip_address,
            payload={"source": source, "characters": len(text)},
        )
    return journal


def journal_weekly_report(*, journals: QuerySet, day: dt.date) -> dict[str, Any]:
    """The ISO week of ``day``: aggregates of its closed trades plus a narrative (LLM, or rule-based).

    Writes nothing. A week without closed trades gets the rule-based line and
    no LLM call.
    """
    summary, trades = journal_week_summary(journals=journals, day=day)
    if summary["trades"] and llm.llm_configured():
        narrative, source = llm.chat_complete(weekly_messages(summary, trades)), "llm"
    else:
        narrative, source = rule_based_weekly(summary), "rule_based"
    return {**summary, "narrative": narrative, "narrative_source": source}


@transaction.atomic
def journal_tag_create(
    *, user, kind: str, name: str, description: str = "", ip_address: str | None = None
) -> JournalTag:
    """Add a word to the user's vocabulary; a name that is already known (built-in or theirs) is refused."""
    if journal_tags_for(user).filter(kind=kind, name=name).exists():
        raise ValidationError({"name": [f"'{name}' is already in the {kind} vocabulary."]})
    tag = JournalTag.objects.create(user=user, kind=kind, name=name, description=description)
    audit_log_create(
        action="journal.tag_create",
        resource=f"journal_tag:{tag.pk}",
        user=user,
        ip_address=ip_address,
        payload={"kind": kind, "name": name},
    )
    return tag


def _tag_name_taken(tag: JournalTag, name: str) -> bool:
    """Would ``name`` clash in a vocabulary that holds ``tag``? A built-in's is everyone's vocabulary."""
    clashes = JournalTag.objects.filter(kind=tag.kind, name=name).exclude(pk=tag.pk)
    if tag.user_id is not None:
        clashes = clashes.filter(Q(user__isnull=True) | Q(user_id=tag.user_id))
    return clashes.exists()


def _tag_rename_in_entries(tag: JournalTag, old: str, new: str) -> int:
    """Rewrite ``old`` to ``new`` in the entries the tag reaches; the number of entries changed."""
    journals = TradeJournal.objects.all() if tag.user_id is None else owned_by(TradeJournal.objects.all(), tag.user)
    if tag.kind == JournalTag.EMOTION:
        return journals.filter(emotion_state=old).update(emotion_state=new, updated_at=timezone.now())
    changed = 0
    for journal in journals.select_for_update().exclude(mistake_tags=None).only("id", "mistake_tags"):
        if old in journal.mistake_tags:
            journal.mistake_tags = list(dict.fromkeys(new if t == old else t for t in journal.mistake_tags))
            journal.save(update_fields=["mistake_tags", "updated_at"])
            changed += 1
    return changed


@transaction.atomic
def journal_tag_update(
    *,
    tag: JournalTag,
    user,
    name: str | None = None,
    description: str | None = None,
    retired: bool | None = None,
    ip_address: str | None = None,
) -> JournalTag:
    """Rename, describe, retire or restore a tag of the user's vocabulary (built-ins: staff only).

    One audit row per change: ``journal.tag_rename`` (with the number of entries rewritten),
    ``journal.tag_retire``, ``journal.tag_restore``, ``journal.tag_describe``.
    """
    tag = JournalTag.objects.select_for_update().get(pk=tag.pk)
    if tag.user_id is None and not user.is_staff:
        raise ApplicationError(
            f"'{tag.name}' is a built-in tag shared by every user: only staff change it. Add a tag of your own instead.",
            code="staff_only", status_code=403,
        )
    audits: list[tuple[str, dict[str, Any]]] = []
    if name is not None and name != tag.name:
        if _tag_name_taken(tag, name):
            raise ValidationError({"name": [f"'{name}' is already in the {tag.kind} vocabulary."]})
        entries = _tag_rename_in_entries(tag, tag.name, name)
        audits.append(("journal.tag_rename", {"from": tag.name, "to": name, "entries": entries}))
        tag.name = name
    if description is not None and description != tag.description:
        tag.description = description
        audits.append(("journal.tag_describe", {"description": description}))
    if retired is not None and retired != (tag.retired_at is not None):
        tag.retired_at = timezone.now() if retired else None
        audits.append(("journal.tag_retire" if retired else "journal.tag_restore", {}))
    if audits:
        tag.save()
        for action, payload in audits:
            audit_log_create(
                action=action, resource=f"journal_tag:{tag.pk}", user=user, ip_address=ip_address,
                payload={"kind": tag.kind, "name": tag.name, **payload},
            )
    return tag
