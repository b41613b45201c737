"""A closed trade drafts its journal entry with a snapshot of the plan, the signal and the indicators."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
import talib

from alphaloop.models import AuditLog
from equity.models import TradePnlAttribution
from equity.services import fifo_rebuild
from journal.models import JournalTag, TradeJournal
from journal.services import journal_draft_from_attribution

ENTRY_DAY, EXIT_DAY = dt.date(2026, 3, 2), dt.date(2026, 3, 5)


@pytest.mark.django_db
def test_a_closed_trade_creates_a_draft_with_the_trades_facts(closed_trade, account):
    journal = closed_trade
    assert journal.journal_status == TradeJournal.DRAFT
    assert (journal.direction, journal.entry_date, journal.exit_date) == ("LONG", ENTRY_DAY, EXIT_DAY)
    assert (journal.entry_price, journal.exit_price, journal.quantity) == (Decimal(101), Decimal(111), Decimal(50))
    assert journal.realized_pnl == Decimal("498.00")  # 500 - 2 x 1.00 commission
    assert journal.plan.entry_price == Decimal("100")
    assert journal.attribution == TradePnlAttribution.objects.get(account=account)
    assert AuditLog.objects.filter(action="journal.draft", resource=f"journal:{journal.pk}").exists()


@pytest.mark.django_db
def test_the_draft_context_carries_the_plan_with_its_r_multiple_and_the_signal(closed_trade):
    context = closed_trade.context
    assert context["plan"] | {"id": None} == {
        "id": None, "direction": "LONG", "entry": "100.000000", "stop": "95.000000", "target": "115.000000",
        "quantity": "50.000000", "planned_rr": "3.00", "r_multiple": "2.00",  # (111 - 101) / (100 - 95)
        "strategy_tag": "breakout", "factor_tag": "",
    }
    signal = context["signal"]
    assert (signal["direction"], signal["strength"], signal["win_rate"], signal["rr_ratio"], signal["sample_size"]) == (
        "LONG", "0.7500", "0.5800", "1.9000", 140
    )
    assert signal["factors"] == {"mom_12_1": 1.2, "rsi_14": -0.4}


@pytest.mark.django_db
def test_the_draft_indicators_at_entry_and_exit_match_talib_on_the_bars_up_to_each_day(closed_trade, acme_closes):
    closes = np.array([float(c) for c in acme_closes])
    at_exit, at_entry = closes, closes[:-3]  # the entry (Monday) is three sessions before the exit (Thursday)
    for label, series, day in (("entry", at_entry, ENTRY_DAY), ("exit", at_exit, EXIT_DAY)):
        indicators = closed_trade.context["indicators"][label]
        assert indicators["as_of"] == day.isoformat()
        assert indicators["close"] == pytest.approx(series[-1])
        assert indicators["rsi_14"] == pytest.approx(round(talib.RSI(series, 14)[-1], 4), abs=1e-4)
        assert indicators["macd_hist"] == pytest.approx(round(talib.MACD(series, 12, 26, 9)[2][-1], 4), abs=1e-4)
        assert indicators["sma_50_distance"] == pytest.approx(round(series[-1] / series[-50:].mean() - 1, 4), abs=1e-4)


@pytest.mark.django_db
def test_a_trade_without_plan_or_bars_drafts_with_null_context(account, fill_factory):
    from equity.services import attribution_record_fill

    fill_factory(account, "ZZZ", "SELL", 5, "20", dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC))
    cover = fill_factory(account, "ZZZ", "BUY", 5, "18", dt.datetime(2026, 3, 3, 15, tzinfo=dt.UTC))
    attribution_record_fill(fill=cover)

    journal = TradeJournal.objects.get(symbol="ZZZ")
    assert (journal.direction, journal.realized_pnl) == ("SHORT", Decimal("10.00"))
    assert journal.context["plan"] is None and journal.context["signal"] is None
    assert journal.context["indicators"]["entry"] == {
        "as_of": None, "close": None, "rsi_14": None, "macd_hist": None, "sma_50_distance": None
    }


@pytest.mark.django_db
def test_drafting_is_idempotent_per_closed_trade(closed_trade, account):
    attribution = closed_trade.attribution

    assert journal_draft_from_attribution(attribution=attribution) == closed_trade
    fifo_rebuild(account=account)
    assert TradeJournal.objects.filter(account=account).count() == 1


@pytest.mark.django_db
def test_the_builtin_vocabulary_is_installed_by_a_migration():
    builtins = JournalTag.objects.filter(user__isnull=True)
    assert set(builtins.filter(kind="emotion").values_list("name", flat=True)) == {
        "calm", "anxious", "revenge", "fomo", "greedy", "confident", "fearful"
    }
    assert set(builtins.filter(kind="mistake").values_list("name", flat=True)) == {
        "sell_fly", "chase_high", "no_stop", "oversize", "early_exit", "late_entry", "ignored_plan", "revenge_trade"
    }


@pytest.mark.django_db
def test_a_live_close_notifies_the_draft_and_a_rebuild_drafts_silently(
    account, fill_factory, django_capture_on_commit_callbacks
):
    from equity.services import attribution_record_fill
    from notifications.models import NotificationLog

    at = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)
    fill_factory(account, "LIVE", "BUY", 1, "10", at)
    fill_factory(account, "QUIET", "BUY", 1, "10", at)
    fill_factory(account, "QUIET", "SELL", 1, "11", at + dt.timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        attribution_record_fill(fill=fill_factory(account, "LIVE", "SELL", 1, "12", at + dt.timedelta(days=1)))
        fifo_rebuild(account=account)

    assert TradeJournal.objects.filter(account=account).count() == 2
    notified = NotificationLog.objects.filter(account=account, event_type="journal_draft")
    assert notified.exists() and all("LIVE" in log.title for log in notified)
