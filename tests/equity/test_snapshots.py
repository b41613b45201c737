"""Daily equity snapshots worked out by hand on a small ledger; the 16:30 job; the backfill command."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from alphaloop.models import AuditLog
from equity.models import EquitySnapshot
from equity.services import create_daily_snapshot, equity_snapshots_backfill
from equity.tasks import equity_snapshot_job
from marketdata import calendar
from marketdata.models import Quote
from notifications.models import LiveEvent

NY = ZoneInfo("America/New_York")
D = Decimal
MON, TUE, WED, THU = dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4), dt.date(2026, 3, 5)
FIELDS = ("snapshot_date", "total_equity", "cash", "market_value", "realized_pnl", "unrealized_pnl", "daily_return",
          "cumulative_return", "max_drawdown", "benchmark_return")

# Worked by hand. initial_cash 100,000. Mon: buy 100 AAPL @ 100 (commission 1). Wed: sell 40 @ 96 (commission 1).
# AAPL closes 100, 110, 95, 105; SPY closes 500 (Fri), 505, 510.05, 499.849, 500.
EXPECTED = [
    # cash 89,999; 100 x 100; equity 99,999 -> -1 / 100,000; SPY 505/500.
    (MON, D("99999.00"), D("89999.00"), D("10000.00"), D("-1.00"), D("0.00"), D("-0.000010"), D("-0.000010"),
     D("-0.000010"), D("0.010000")),
    # 100 x 110 -> 100,999: +1,000/99,999 = 0.0100001; new peak; SPY 510.05/505.
    (TUE, D("100999.00"), D("89999.00"), D("11000.00"), D("-1.00"), D("1000.00"), D("0.010000"), D("0.009990"),
     D("-0.000010"), D("0.010000")),
    # cash 89,999 + 3,840 - 1; 60 x 95; realized -160 - 2 commissions; 99,538/100,999 - 1 = -0.0144655.
    (WED, D("99538.00"), D("93838.00"), D("5700.00"), D("-162.00"), D("-300.00"), D("-0.014465"), D("-0.004620"),
     D("-0.014465"), D("-0.020000")),
    # 60 x 105 -> 100,138: +600/99,538; below the 100,999 peak by 0.85% (max drawdown stays); SPY 500/499.849.
    (THU, D("100138.00"), D("93838.00"), D("6300.00"), D("-162.00"), D("300.00"), D("0.006028"), D("0.001380"),
     D("-0.014465"), D("0.000302")),
]


def ny(day: dt.date, hour: int = 15, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NY)


@pytest.fixture
def small_ledger(account, fill_factory, bars_factory):
    bars_factory("AAPL", [100, 110, 95, 105], end=THU)
    bars_factory("SPY", [500, 505, "510.05", "499.849", 500], end=THU)
    fill_factory(account, "AAPL", "BUY", 100, "100", ny(MON), commission="1.00")
    fill_factory(account, "AAPL", "SELL", 40, "96", ny(WED), commission="1.00")
    return account


def _table(account):
    return list(EquitySnapshot.objects.filter(account=account).order_by("snapshot_date").values_list(*FIELDS))


@pytest.mark.django_db
def test_daily_snapshots_match_the_hand_worked_ledger(small_ledger):
    for day in (MON, TUE, WED, THU):
        create_daily_snapshot(account=small_ledger, date=day)

    assert _table(small_ledger) == EXPECTED


@pytest.mark.django_db
def test_compounded_daily_returns_equal_the_cumulative_return(small_ledger):
    for day in (MON, TUE, WED, THU):
        create_daily_snapshot(account=small_ledger, date=day)
    growth = D("1")
    for snap in EquitySnapshot.objects.filter(account=small_ledger).order_by("snapshot_date"):
        growth *= 1 + snap.daily_return
    # Both are rounded to 6 places; the product of the rounded dailies lands within a few units of the last place.
    assert abs((growth - 1) - D("0.001380")) < D("0.000005")


@pytest.mark.django_db
def test_backfill_rebuilds_the_same_rows_as_the_daily_path(small_ledger):
    snapshots = equity_snapshots_backfill(account=small_ledger, start=dt.date(2026, 2, 28), end=THU)

    assert [s.snapshot_date for s in snapshots] == [MON, TUE, WED, THU]  # Saturday skipped
    assert _table(small_ledger) == EXPECTED
    assert not LiveEvent.objects.exists()  # a backfill is not pushed live
    assert AuditLog.objects.filter(action="equity.backfill").count() == 1


@pytest.mark.django_db
def test_snapshot_is_upserted_and_a_rerun_writes_and_pushes_nothing(small_ledger, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = create_daily_snapshot(account=small_ledger, date=MON)
    with django_capture_on_commit_callbacks(execute=True) as again:
        second = create_daily_snapshot(account=small_ledger, date=MON)

    assert first.pk == second.pk and EquitySnapshot.objects.count() == 1
    assert again == []
    event = LiveEvent.objects.get()
    assert (event.channel, event.event, event.user_id) == ("equity_update", "snapshot", small_ledger.user_id)
    assert event.data["total_equity"] == "99999.00" and event.data["date"] == "2026-03-02"


@pytest.mark.django_db
def test_a_later_fill_changes_a_rerun_snapshot(small_ledger, fill_factory):
    create_daily_snapshot(account=small_ledger, date=THU)
    fill_factory(small_ledger, "AAPL", "SELL", 60, "104", ny(THU, 17), commission="1.00")  # after hours, same day

    snap = create_daily_snapshot(account=small_ledger, date=THU)

    assert (snap.cash, snap.market_value, snap.unrealized_pnl) == (D("100077.00"), D("0.00"), D("0.00"))
    assert snap.realized_pnl == D("77.00")  # -160 + 240 - 3 commissions


@pytest.mark.django_db
def test_fills_after_the_snapshot_date_are_not_counted(small_ledger):
    snap = create_daily_snapshot(account=small_ledger, date=TUE)  # the Wednesday sale is in the future
    assert (snap.cash, snap.market_value) == (D("89999.00"), D("11000.00"))


@pytest.mark.django_db
def test_a_symbol_without_a_bar_that_day_is_marked_at_the_fresher_quote(account, fill_factory, bars_factory):
    bars_factory("MSFT", [300], end=MON)
    from marketdata.models import Instrument

    Quote.objects.create(instrument=Instrument.objects.get(symbol="MSFT"), price=D("310"), timestamp=ny(TUE, 16))
    fill_factory(account, "MSFT", "BUY", 10, "305", ny(TUE, 10))

    snap = create_daily_snapshot(account=account, date=TUE)

    assert snap.market_value == D("3100.00")  # quote (Tue 16:00) beats Monday's bar and the 10:00 fill
    assert snap.unrealized_pnl == D("50.00")
    assert snap.benchmark_return is None  # no SPY bars
    # the backfill reads preloaded bars and quotes: same marks
    (rebuilt,) = equity_snapshots_backfill(account=account, start=TUE, end=TUE)
    assert (rebuilt.pk, rebuilt.market_value) == (snap.pk, D("3100.00"))


@pytest.mark.django_db
def test_snapshot_of_a_day_that_is_not_a_session_is_refused(account):
    from alphaloop.exceptions import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        create_daily_snapshot(account=account, date=dt.date(2026, 3, 7))
    assert refused.value.code == "not_a_session"
    assert not EquitySnapshot.objects.exists()


@pytest.mark.django_db
def test_snapshot_job_snapshots_every_account_once_and_a_rerun_changes_nothing(small_ledger, other_user):
    with time_machine.travel(ny(THU, 16, 30), tick=False):
        first = equity_snapshot_job.delay().get()
        rows = _table(small_ledger)
        ids = set(EquitySnapshot.objects.values_list("id", flat=True))
        second = equity_snapshot_job.delay().get()

    assert first["accounts"] == second["accounts"] == 2
    assert EquitySnapshot.objects.count() == 2
    assert set(EquitySnapshot.objects.values_list("id", flat=True)) == ids
    assert _table(small_ledger) == rows
    assert rows[0][1] == D("100138.00")
    outsider = EquitySnapshot.objects.get(account=other_user.accounts.get())
    assert (outsider.total_equity, outsider.daily_return) == (D("100000.00"), D("0.000000"))


@pytest.mark.django_db
@pytest.mark.parametrize(
    "when",
    [
        dt.datetime(2026, 7, 3, 16, 30, tzinfo=NY),  # Independence Day observed (Friday)
        dt.datetime(2026, 11, 26, 16, 30, tzinfo=NY),  # Thanksgiving
        dt.datetime(2026, 3, 7, 16, 30, tzinfo=NY),  # Saturday
        dt.datetime(2026, 3, 5, 15, 59, tzinfo=NY),  # a session that has not closed yet
    ],
)
def test_snapshot_job_skips_holidays_weekends_and_open_sessions(account, when):
    with time_machine.travel(when, tick=False):
        result = equity_snapshot_job.delay().get()

    assert result["accounts"] == 0 and result["skipped"]
    assert not EquitySnapshot.objects.exists()


@pytest.mark.django_db
def test_snapshot_job_runs_after_a_half_day_close(account):
    half_day = dt.date(2026, 11, 27)
    assert calendar.session_open_close(half_day)[1] == ny(half_day, 13)
    with time_machine.travel(ny(half_day, 16, 30), tick=False):
        result = equity_snapshot_job.delay().get()
    assert result["accounts"] == 1
    assert EquitySnapshot.objects.get().snapshot_date == half_day


@pytest.mark.django_db
def test_snapshot_job_is_in_the_beat_schedule_at_1630_new_york():
    from alphaloop.schedule import periodic_tasks_ensure

    tasks = {task.name: task for task in periodic_tasks_ensure()}

    job = tasks["equity_snapshot_job"]
    assert job.task == "equity.tasks.equity_snapshot_job"
    assert (job.crontab.hour, job.crontab.minute, job.crontab.day_of_week) == ("16", "30", "1-5")
    assert str(job.crontab.timezone) == "America/New_York"


@pytest.mark.django_db
def test_backfill_command_rebuilds_a_range_from_fills_and_bars(small_ledger):
    out = io.StringIO()
    call_command("backfill_equity", "--account", small_ledger.code, "--start", "2026-03-02", "--end", "2026-03-05",
                 "--attribution", stdout=out)

    assert _table(small_ledger) == EXPECTED
    assert "4 snapshots" in out.getvalue() and "1 created" in out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (["--account", "NOPE", "--start", "2026-03-02", "--end", "2026-03-05"], "no account"),
        (["--account", "PAPER-trader", "--start", "2026-03-05", "--end", "2026-03-02"], "on or before"),
        (["--account", "PAPER-trader", "--start", "03/02/2026", "--end", "2026-03-05"], "not a date"),
    ],
)
def test_backfill_command_rejects_bad_arguments_and_writes_nothing(account, args, message):
    with pytest.raises(CommandError, match=message):
        call_command("backfill_equity", *args)
    assert not EquitySnapshot.objects.exists()
