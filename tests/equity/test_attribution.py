"""FIFO P&L attribution from fills: partial closes, shorts, a flip in one fill, idempotence, the signal."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from equity.models import TradePnlAttribution
from equity.services import attribution_record_fill, fifo_rebuild
from journal.models import TradeJournal
from orders.models import Fill, TradingPlan

NY = ZoneInfo("America/New_York")
D = Decimal


def ny(day: dt.date, hour: int = 15) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=NY)


@pytest.fixture
def plan(account):
    return TradingPlan.objects.create(
        account=account, symbol="XYZ", direction="LONG", entry_price=D("10"), stop_price=D("9"),
        target_price=D("15"), quantity=D("100"), strategy_tag="plan-tag",
    )


LEDGER = [  # side, quantity, price, day, commission, strategy_tag, factor_tag, with the plan
    ("BUY", 100, "10", dt.date(2026, 1, 5), "1.00", "breakout", "mom_12_1", True),
    ("BUY", 50, "12", dt.date(2026, 1, 6), "1.00", "pullback", "", False),
    ("SELL", 120, "15", dt.date(2026, 1, 8), "1.20", "exit-tag", "", False),
    ("SELL", 80, "14", dt.date(2026, 1, 9), "0.80", "fade", "rsi_14", False),
    ("BUY", 20, "13", dt.date(2026, 1, 12), "0.20", "cover-tag", "", False),
]


@pytest.fixture
def trade_ledger(account, fill_factory, plan):
    """Long 100 + 50, sell 120 (two partial closes), sell 80 (close 30 and flip short 50), buy 20 (cover).

    ``trade_ledger(record=True)`` records each fill as it happens, like the live path.
    """

    def _play(*, record: bool) -> tuple[list[Fill], list[list[TradePnlAttribution]]]:
        fills, closed = [], []
        for side, qty, price, day, commission, strategy, factor, planned in LEDGER:
            fill = fill_factory(account, "XYZ", side, qty, price, ny(day), commission=commission,
                                strategy_tag=strategy, factor_tag=factor, plan=plan if planned else None)
            fills.append(fill)
            if record:
                closed.append(attribution_record_fill(fill=fill))
        return fills, closed

    return _play


def _rows(account):
    return list(
        TradePnlAttribution.objects.filter(account=account)
        .order_by("trade_date", "entry_fill_id")
        .values_list("direction", "quantity", "entry_price", "exit_price", "realized_pnl", "holding_days",
                     "strategy_tag", "factor_tag", "plan_id", "entry_date", "trade_date")
    )


@pytest.mark.django_db
def test_fifo_matches_partial_closes_a_flip_and_a_short_cover_with_commission_shares(account, trade_ledger, plan):
    fills, closed = trade_ledger(record=True)

    assert [len(c) for c in closed] == [0, 0, 2, 1, 1]
    assert _rows(account) == [
        # 100 of the first buy closed by the 120 sell: 500 gross - (1.00 + 1.20 * 100/120) commission.
        ("LONG", D("100"), D("10"), D("15"), D("498.00"), 3, "breakout", "mom_12_1", plan.pk,
         dt.date(2026, 1, 5), dt.date(2026, 1, 8)),
        # 20 of the second buy: 60 gross - (1.00 * 20/50 + 1.20 * 20/120).
        ("LONG", D("20"), D("12"), D("15"), D("59.40"), 2, "pullback", None, None,
         dt.date(2026, 1, 6), dt.date(2026, 1, 8)),
        # the last 30 of the second buy closed by the 80 sell: 60 - (1.00 * 30/50 + 0.80 * 30/80).
        ("LONG", D("30"), D("12"), D("14"), D("59.10"), 3, "pullback", None, None,
         dt.date(2026, 1, 6), dt.date(2026, 1, 9)),
        # the flip's remaining 50 opened a short; the buy covers 20: 20 - (0.80 * 20/80 + 0.20).
        ("SHORT", D("20"), D("14"), D("13"), D("19.60"), 3, "fade", "rsi_14", None,
         dt.date(2026, 1, 9), dt.date(2026, 1, 12)),
    ]
    pairs = TradePnlAttribution.objects.filter(account=account).values_list("entry_fill_id", "exit_fill_id")
    f = [fill.pk for fill in fills]
    assert set(pairs) == {(f[0], f[2]), (f[1], f[2]), (f[1], f[3]), (f[3], f[4])}


@pytest.mark.django_db
def test_recording_the_same_fills_again_or_rebuilding_writes_nothing(account, trade_ledger):
    fills, _ = trade_ledger(record=True)
    before = _rows(account)
    ids = set(TradePnlAttribution.objects.values_list("id", flat=True))

    again = [attribution_record_fill(fill=fill) for fill in fills]
    rebuilt = fifo_rebuild(account=account)

    assert again == [[], [], [], [], []]
    assert (len(rebuilt.created), rebuilt.updated, rebuilt.deleted) == (0, 0, 0)
    assert _rows(account) == before
    assert set(TradePnlAttribution.objects.values_list("id", flat=True)) == ids
    assert TradeJournal.objects.filter(account=account).count() == 4


@pytest.mark.django_db
def test_fifo_rebuild_backfills_every_symbol_from_fills_alone(account, trade_ledger, fill_factory):
    trade_ledger(record=False)
    fill_factory(account, "ABC", "SELL", 10, "50", ny(dt.date(2026, 2, 2)))
    fill_factory(account, "ABC", "BUY", 10, "45", ny(dt.date(2026, 2, 4)))

    result = fifo_rebuild(account=account)

    assert len(result.created) == 5
    short = TradePnlAttribution.objects.get(account=account, symbol="ABC")
    assert (short.direction, short.realized_pnl, short.holding_days) == ("SHORT", D("50.00"), 2)


@pytest.mark.django_db
def test_a_late_fill_that_changes_the_fifo_order_rematches_the_symbol(account, fill_factory):
    buy_late = fill_factory(account, "XYZ", "BUY", 10, "20", ny(dt.date(2026, 1, 6)))
    sell = fill_factory(account, "XYZ", "SELL", 10, "25", ny(dt.date(2026, 1, 7)))
    attribution_record_fill(fill=sell)
    assert _rows(account)[0][4] == D("50.00")

    # A fill executed earlier arrives afterwards (a broker re-send): FIFO now closes it first.
    early = fill_factory(account, "XYZ", "BUY", 10, "10", ny(dt.date(2026, 1, 5)))
    attribution_record_fill(fill=early)

    row = TradePnlAttribution.objects.get(account=account)
    assert (row.entry_fill_id, row.exit_fill_id, row.realized_pnl) == (early.pk, sell.pk, D("150.00"))
    assert buy_late.pk not in TradePnlAttribution.objects.values_list("entry_fill_id", flat=True)


@pytest.mark.django_db
def test_accounts_are_matched_separately(account, other_user, fill_factory):
    other = other_user.accounts.get()
    fill_factory(account, "XYZ", "BUY", 10, "10", ny(dt.date(2026, 1, 5)))
    sell = fill_factory(other, "XYZ", "SELL", 10, "12", ny(dt.date(2026, 1, 6)))

    assert attribution_record_fill(fill=sell) == []
    assert not TradePnlAttribution.objects.exists()


@pytest.mark.django_db
def test_a_published_fill_builds_the_attribution_and_the_journal_draft(
    account, fill_factory, django_capture_on_commit_callbacks
):
    from notifications.models import NotificationLog
    from orders.publish import fill_notify

    buy = fill_factory(account, "XYZ", "BUY", 10, "10", ny(dt.date(2026, 1, 5)))
    sell = fill_factory(account, "XYZ", "SELL", 10, "11", ny(dt.date(2026, 1, 6)))

    with django_capture_on_commit_callbacks(execute=True):
        for fill in (buy, sell):
            fill_notify(fill, fill.order, account=account)

    row = TradePnlAttribution.objects.get(account=account)
    assert (row.entry_fill_id, row.exit_fill_id, row.realized_pnl) == (buy.pk, sell.pk, D("10.00"))
    journal = TradeJournal.objects.get(attribution=row)
    assert (journal.journal_status, journal.symbol, journal.realized_pnl) == ("DRAFT", "XYZ", D("10.00"))
    assert NotificationLog.objects.filter(account=account, event_type="journal_draft").exists()
