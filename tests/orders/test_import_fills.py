"""A trader's past executions imported from a broker's file (``orders.external_fills``, ``manage.py import_fills``).

The samples under ``tests/orders/samples/`` are written from the brokers' public documentation: an IBKR Flex
Query trades section (CSV with IBKR's header and trailer records), Alpaca's ``GET /v2/account/activities/FILL``
answer (newest first, two partial fills of one order at the same millisecond), and the generic CSV. Every
number below is worked out by hand from those files.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from alphaloop.models import AuditLog
from equity.models import EquitySnapshot, TradePnlAttribution
from journal.models import TradeJournal
from marketdata.models import Instrument
from notifications.models import LiveEvent, NotificationLog
from orders.external_fills import fills_import
from orders.models import Account, Fill, Order, Position

SAMPLES = Path(__file__).parent / "samples"
UTC = dt.timezone.utc
# Friday 2024-03-15 18:00 ET: the samples' last session has closed.
AFTER_THE_CLOSE = dt.datetime(2024, 3, 15, 22, 0, tzinfo=UTC)
MARCH_SESSIONS = [dt.date(2024, 3, d) for d in (11, 12, 13, 14, 15)]

pytestmark = pytest.mark.django_db


@pytest.fixture
def after_the_close(time_machine):
    time_machine.move_to(AFTER_THE_CLOSE, tick=False)
    return time_machine


@pytest.fixture
def march_bars(bars_factory):
    """Daily closes 2024-03-08 .. 2024-03-15 of the IBKR sample's symbols and SPY."""
    closes = {
        "AAPL": [170.73, 172.75, 173.23, 171.13, 173.00, 172.62],
        "MSFT": [406.22, 404.52, 415.28, 415.10, 425.22, 416.42],
        "TSLA": [175.34, 177.77, 177.54, 169.48, 162.50, 163.57],
        "SPY": [511.72, 511.28, 516.78, 515.97, 514.95, 509.83],
    }
    for symbol, series in closes.items():
        bars_factory(symbol, series, end=dt.date(2024, 3, 15))


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def attribution_rows(account) -> list[tuple]:
    return sorted(TradePnlAttribution.objects.filter(account=account).values_list(
        "symbol", "direction", "entry_date", "trade_date", "entry_price", "exit_price", "quantity", "realized_pnl"))


def position(account, symbol: str) -> tuple:
    row = Position.objects.get(account=account, symbol=symbol)
    return row.quantity, row.avg_cost, row.cost_basis, row.realized_pnl


def ledger_rows(account) -> dict:
    return {"fills": Fill.objects.filter(account=account).count(), "orders": Order.objects.filter(account=account).count(),
            "positions": Position.objects.filter(account=account).count(),
            "attribution": TradePnlAttribution.objects.filter(account=account).count(),
            "snapshots": EquitySnapshot.objects.filter(account=account).count()}


def test_an_ibkr_flex_statement_books_positions_cash_fifo_trades_and_the_equity_curve(
    account, march_bars, after_the_close, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = fills_import(account=account, content=sample("ibkr_flex_trades.csv"), file_format="ibkr-flex")

    assert (report.status, report.rows, report.booking.imported, report.booking.duplicates) == ("imported", 10, 7, 0)
    assert [(n.line, n.message) for n in report.skipped] == [
        (7, "AAPL  240419C00175000 is an option: AlphaLoop's ledger books US stocks"),
        (11, "LevelOfDetail ORDER: not an execution row"),
        (12, "EUR.USD is a forex conversion: AlphaLoop's ledger books US stocks"),
    ]
    stored = Account.objects.get(pk=account.pk)
    # 100,000 - 17,251.00 - 20,211.00 - 8,656.00 + 13,695.60 + 6,847.00 + 4,949.00 - 4,876.00
    assert (stored.cash, stored.realized_pnl, stored.total_commission) == (D("74497.60"), D("-105.40"), D("6.00"))
    assert position(account, "AAPL") == (D("30"), D("172.700000"), D("5181.00"), D("-180.40"))
    assert position(account, "MSFT") == (D("50"), D("404.200000"), D("20210.00"), D("0"))
    assert position(account, "TSLA") == (D("0"), D("0"), D("0"), D("75.00"))
    # FIFO, net of each trade's share of the entry's and the exit's commission.
    assert attribution_rows(account) == sorted([
        ("AAPL", "LONG", dt.date(2024, 3, 11), dt.date(2024, 3, 13), D("172.5"), D("171.2"), D("80"), D("-105.20")),
        ("AAPL", "LONG", dt.date(2024, 3, 11), dt.date(2024, 3, 13), D("172.5"), D("171.19"), D("20"), D("-26.70")),
        ("AAPL", "LONG", dt.date(2024, 3, 12), dt.date(2024, 3, 13), D("173.1"), D("171.19"), D("20"), D("-38.90")),
        ("TSLA", "SHORT", dt.date(2024, 3, 14), dt.date(2024, 3, 15), D("165"), D("162.5"), D("30"), D("73.00")),
    ])
    # Each session's cash plus its holdings at that session's close.
    curve = list(EquitySnapshot.objects.filter(account=account).order_by("snapshot_date")
                 .values_list("snapshot_date", "total_equity", "cash"))
    assert curve == [
        (dt.date(2024, 3, 11), D("100039.00"), D("62538.00")),
        (dt.date(2024, 3, 12), D("100630.50"), D("53882.00")),
        (dt.date(2024, 3, 13), D("100313.50"), D("74424.60")),
        (dt.date(2024, 3, 14), D("100949.60"), D("79373.60")),
        (dt.date(2024, 3, 15), D("100497.20"), D("74497.60")),
    ]


def test_the_ibkr_orders_are_broker_orders_with_ibkrs_ids_in_execution_time(account, after_the_close):
    fills_import(account=account, content=sample("ibkr_flex_trades.csv"), file_format="ibkr-flex")

    sale = Order.objects.get(account=account, broker_order_id="512345605")
    assert (sale.source, sale.status, sale.side, sale.quantity, sale.filled_quantity) == (
        "BROKER", "FILLED", "SELL", D("120"), D("120"))
    assert sale.avg_fill_price == D("171.196667")  # (80 x 171.20 + 40 x 171.19) / 120
    assert sale.created_at == sale.filled_at == dt.datetime(2024, 3, 13, 15, 30, 5, tzinfo=UTC)  # 11:30:05 EDT
    assert sorted(sale.fills.values_list("external_id", "quantity", "commission")) == [
        ("0000e0d5.65f13d01.01.01", D("80"), D("0.40")), ("0000e0d5.65f13d02.01.01", D("40"), D("0.60"))]
    assert Order.objects.filter(account=account).exclude(source="BROKER").count() == 0
    assert Order.objects.filter(account=account).count() == 6  # 7 executions, the sale's two on one order


def test_alpaca_fill_activities_book_in_execution_order_with_the_stream_s_execution_ids(
    account, after_the_close, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        report = fills_import(account=account, content=sample("alpaca_activities_fill.json"), file_format="alpaca")

    assert (report.status, report.booking.imported, report.booking.orders_created) == ("imported", 6, 5)
    assert report.booking.instruments_created == ["AAPL", "AMD", "NVDA"]
    stored = Account.objects.get(pk=account.pk)
    # 100,000 - 5,146.44 - 3,431.00 + 9,088.80 + 3,742.00 - 3,711.00 - 857.50; Alpaca charges no commission
    assert (stored.cash, stored.realized_pnl, stored.total_commission) == (D("99684.86"), D("542.36"), D("0.00"))
    # The two partial fills share a millisecond: cum_qty 6 is booked before cum_qty 10.
    nvda = Order.objects.get(account=account, broker_order_id="1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d05")
    assert list(nvda.fills.order_by("id").values_list("external_id", "quantity", "price")) == [
        ("0a1b2c3d-4e5f-4607-8819-2a3b4c5d6e66", D("6"), D("857.74")),
        ("f0e9d8c7-b6a5-4493-8271-605f4e3d2c55", D("4"), D("857.75")),
    ]
    assert (nvda.status, nvda.source) == ("FILLED", "BROKER")
    assert attribution_rows(account) == sorted([
        ("AMD", "SHORT", dt.date(2024, 3, 14), dt.date(2024, 3, 14), D("187.1"), D("185.55"), D("20"), D("31.00")),
        ("NVDA", "LONG", dt.date(2024, 3, 11), dt.date(2024, 3, 13), D("857.74"), D("908.88"), D("6"), D("306.84")),
        ("NVDA", "LONG", dt.date(2024, 3, 11), dt.date(2024, 3, 13), D("857.75"), D("908.88"), D("4"), D("204.52")),
    ])
    assert position(account, "AAPL") == (D("5"), D("171.500000"), D("857.50"), D("0"))
    # No bars: a holding is marked at its last fill (10 NVDA at 857.75); the curve runs to the last closed session.
    assert list(EquitySnapshot.objects.filter(account=account).order_by("snapshot_date")
                .values_list("snapshot_date", "total_equity")) == [
        (dt.date(2024, 3, 11), D("100000.06")), (dt.date(2024, 3, 12), D("100000.06")),
        (dt.date(2024, 3, 13), D("100511.36")), (dt.date(2024, 3, 14), D("100542.36")),
        (dt.date(2024, 3, 15), D("100542.36")),
    ]


def test_the_generic_csv_reads_offsets_and_new_york_time(account, after_the_close):
    report = fills_import(account=account, content=sample("generic_fills.csv"), file_format="csv")

    assert (report.status, report.booking.imported) == ("imported", 3)
    assert sorted(Fill.objects.filter(account=account).values_list("external_id", "executed_at", "commission")) == [
        ("T-1001", dt.datetime(2024, 3, 12, 14, 15, tzinfo=UTC), D("1.00")),  # 10:15 -04:00
        ("T-1002", dt.datetime(2024, 3, 14, 19, 30, tzinfo=UTC), D("1.00")),  # 15:30 without offset: New York (EDT)
        ("T-1003", dt.datetime(2024, 3, 15, 14, 5, tzinfo=UTC), D("0.35")),
    ]
    assert Account.objects.get(pk=account.pk).cash == D("100000") - D("3502.00") + D("3571.00") - D("1694.51")
    assert attribution_rows(account) == [
        ("AMZN", "LONG", dt.date(2024, 3, 12), dt.date(2024, 3, 14), D("175.05"), D("178.6"), D("20"), D("69.00"))]


def test_the_same_file_again_imports_nothing(account, march_bars, after_the_close, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        fills_import(account=account, content=sample("ibkr_flex_trades.csv"), file_format="ibkr-flex")
    before = ledger_rows(account)
    cash = Account.objects.get(pk=account.pk).cash

    with django_capture_on_commit_callbacks(execute=True):
        again = fills_import(account=account, content=sample("ibkr_flex_trades.csv"), file_format="ibkr-flex")

    assert (again.status, again.booking.imported, again.booking.duplicates, again.booking.orders_created) == (
        "imported", 0, 7, 0)
    assert again.detail == "Imported 0 execution(s) into PAPER-trader; 7 already in the ledger; 3 row(s) skipped."
    assert ledger_rows(account) == before
    assert Account.objects.get(pk=account.pk).cash == cash


def test_a_file_with_one_bad_row_imports_nothing_and_names_the_line(account, after_the_close, row_counts):
    text = sample("generic_fills.csv").decode().replace("AMZN,SELL,20,178.60", "AMZN,SELL,20,17x.60")
    before = row_counts()

    report = fills_import(account=account, content=text.encode(), file_format="csv")

    assert report.status == "refused"
    assert [(n.line, n.message) for n in report.errors] == [(3, "price '17x.60' is not a plain decimal number")]
    assert report.detail == "1 bad row(s): nothing was imported."
    assert row_counts() == before
    assert Account.objects.get(pk=account.pk).cash == D("100000")


def test_every_bad_row_is_reported_before_anything_is_written(account, after_the_close, row_counts):
    text = ("executed_at,symbol,side,quantity,price,commission,execution_id\n"
            "2024-03-12T10:15:00-04:00,AMZN,BUY,20,175.05,1.00,T-1\n"
            "2024-03-12T10:16:00-04:00,AMZN,HOLD,20,175.05,1.00,T-2\n"
            "2024-03-12T10:17:00-04:00,AMZN,BUY,0.0000001,175.05,1.00,T-3\n"
            "2030-01-02T10:00:00-05:00,AMZN,BUY,1,175.05,1.00,T-4\n"
            "2024-03-12T10:18:00-04:00,AMZN,SELL,20,175.05,1.00,T-1\n")
    before = row_counts()

    report = fills_import(account=account, content=text.encode(), file_format="csv")

    assert [(n.line, n.message) for n in report.errors] == [
        (3, "side 'HOLD' is not BUY or SELL"),
        (4, "quantity 0.0000001 has more than 6 decimal places"),
    ]
    assert row_counts() == before
    # Rows that read well are then checked against the ledger and each other: still nothing written.
    report = fills_import(account=account, content=text.replace(",HOLD,", ",BUY,").replace("0.0000001", "1").encode(),
                          file_format="csv")
    assert [(n.line, n.message) for n in report.errors] == [
        (5, "executed at 2030-01-02T10:00:00-05:00, in the future"),
        (6, "execution T-1 is also on line 2 with other values (BUY 20 AMZN @ 175.05)"),
    ]
    assert row_counts() == before


def test_an_execution_id_already_booked_with_other_values_is_a_bad_row(account, after_the_close, row_counts):
    fills_import(account=account, content=sample("generic_fills.csv"), file_format="csv")
    before = row_counts()
    changed = sample("generic_fills.csv").decode().replace("GOOGL,BUY,12,141.18", "GOOGL,BUY,13,141.18")

    report = fills_import(account=account, content=changed.encode(), file_format="csv")

    fill = Fill.objects.get(account=account, external_id="T-1003")
    assert [(n.line, n.message) for n in report.errors] == [
        (4, f"execution T-1003 is already booked as fill #{fill.pk} (BUY 12 GOOGL @ 141.18), not BUY 13 GOOGL @ 141.18")]
    assert row_counts() == before


def test_older_executions_than_the_ledgers_rebuild_fifo_attribution_and_positions_in_execution_order(
    account, after_the_close, django_capture_on_commit_callbacks
):
    newer = ("executed_at,symbol,side,quantity,price,commission,execution_id\n"
             "2024-03-13T10:00:00-04:00,AAPL,BUY,10,100.00,1.00,N-1\n"
             "2024-03-14T10:00:00-04:00,AAPL,SELL,10,110.00,1.00,N-2\n")
    older = ("executed_at,symbol,side,quantity,price,commission,execution_id\n"
             "2024-03-11T10:00:00-04:00,AAPL,BUY,10,90.00,1.00,O-1\n")
    with django_capture_on_commit_callbacks(execute=True):
        fills_import(account=account, content=newer.encode(), file_format="csv")
    assert attribution_rows(account) == [
        ("AAPL", "LONG", dt.date(2024, 3, 13), dt.date(2024, 3, 14), D("100"), D("110"), D("10"), D("98.00"))]

    with django_capture_on_commit_callbacks(execute=True):
        report = fills_import(account=account, content=older.encode(), file_format="csv")

    # In execution order the sale closes the older, cheaper lot first (FIFO); the 100.00 lot stays open.
    assert attribution_rows(account) == [
        ("AAPL", "LONG", dt.date(2024, 3, 11), dt.date(2024, 3, 14), D("90"), D("110"), D("10"), D("198.00"))]
    assert report.booking.positions_replayed == ["AAPL"]
    # Average cost in execution order: 20 held at 95.00, the sale realized 10 x (110 - 95).
    assert position(account, "AAPL") == (D("10"), D("95.000000"), D("950.00"), D("150.00"))
    assert list(Fill.objects.filter(account=account).order_by("executed_at").values_list("external_id", "realized_pnl")) == [
        ("O-1", D("0")), ("N-1", D("0")), ("N-2", D("150.00"))]
    stored = Account.objects.get(pk=account.pk)
    assert (stored.cash, stored.realized_pnl, stored.total_commission) == (D("99197.00"), D("150.00"), D("3.00"))
    assert stored.cash == stored.initial_cash + stored.realized_pnl - stored.total_commission - D("950.00")
    # The equity curve is rewritten from the older execution's session on.
    assert list(EquitySnapshot.objects.filter(account=account).order_by("snapshot_date")
                .values_list("snapshot_date", "cash")) == [
        (dt.date(2024, 3, 11), D("99099.00")), (dt.date(2024, 3, 12), D("99099.00")),
        (dt.date(2024, 3, 13), D("98098.00")), (dt.date(2024, 3, 14), D("99197.00")),
        (dt.date(2024, 3, 15), D("99197.00")),
    ]


def test_a_dry_run_counts_everything_and_writes_nothing(account, after_the_close, row_counts,
                                                        django_capture_on_commit_callbacks):
    before = row_counts()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        report = fills_import(account=account, content=sample("ibkr_flex_trades.csv"), file_format="ibkr-flex",
                              dry_run=True)

    assert (report.status, report.booking.imported, report.booking.orders_created) == ("dry_run", 7, 6)
    assert report.booking.instruments_created == ["AAPL", "MSFT", "TSLA"]
    assert report.detail.endswith("Dry run: nothing was written.")
    assert row_counts() == before and not callbacks
    assert Account.objects.get(pk=account.pk).cash == D("100000")
    assert not Instrument.objects.exists()


def test_one_audit_row_per_import_with_counts_never_the_file(account, user, after_the_close):
    fills_import(account=account, content=sample("generic_fills.csv"), file_format="csv", user=user,
                 ip_address="203.0.113.9")

    row = AuditLog.objects.get(action="orders.external_fills")
    assert (row.user, row.resource, row.ip_address) == (user, f"account:{account.pk}", "203.0.113.9")
    assert {key: row.payload[key] for key in ("origin", "rows", "imported", "duplicates", "orders_created", "skipped")} == {
        "origin": "import:csv", "rows": 3, "imported": 3, "duplicates": 0, "orders_created": 3, "skipped": 0}
    assert "T-1001" not in str(row.payload) and "175.05" not in str(row.payload)


def test_each_imported_fill_goes_out_live_like_a_paper_fill_and_journal_drafts_come_quietly(
    account, after_the_close, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        fills_import(account=account, content=sample("generic_fills.csv"), file_format="csv")

    orders = list(Order.objects.filter(account=account).values_list("id", flat=True))
    updates = LiveEvent.objects.filter(user_id=account.user_id, channel="order_update", event="FILLED")
    assert sorted(event.data["id"] for event in updates) == sorted(orders)
    assert NotificationLog.objects.filter(account=account, event_type="order_filled", channel="websocket").count() == 3
    # The closed trade is drafted in the journal without a "journal draft" notification per historic trade.
    assert TradeJournal.objects.filter(account=account, journal_status="DRAFT").count() == 1
    assert not NotificationLog.objects.filter(account=account, event_type="journal_draft").exists()


def test_an_alpaca_execution_of_an_order_alphaloop_placed_is_booked_on_that_order(account, after_the_close):
    placed = Order.objects.create(account=account, client_order_id="al-1", symbol="NVDA", side="SELL", quantity=D("10"),
                                  broker_order_id="3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e04", status=Order.ACCEPTED)

    fills_import(account=account, content=sample("alpaca_activities_fill.json"), file_format="alpaca")

    placed.refresh_from_db()
    assert (placed.status, placed.filled_quantity, placed.avg_fill_price) == ("FILLED", D("10"), D("908.88"))
    assert list(placed.fills.values_list("external_id", flat=True)) == ["e1d2c3b4-a596-4877-8695-a4b3c2d1e044"]
    assert Order.objects.filter(account=account, source="BROKER").count() == 4


def test_the_command_imports_reports_skipped_lines_and_a_second_run_finds_duplicates(account, after_the_close, capsys):
    path = str(SAMPLES / "ibkr_flex_trades.csv")

    call_command("import_fills", path, "--format", "ibkr-flex", "--account", account.code)
    first = capsys.readouterr().out
    call_command("import_fills", path, "--format", "ibkr-flex", "--account", account.code)
    second = capsys.readouterr().out

    assert "line 7: skipped: AAPL  240419C00175000 is an option" in first
    assert "Imported 7 execution(s) into PAPER-trader; 0 already in the ledger; 3 row(s) skipped." in first
    assert "6 order(s) created; symbols AAPL, MSFT, TSLA" in first
    assert "Imported 0 execution(s) into PAPER-trader; 7 already in the ledger" in second
    assert Fill.objects.filter(account=account).count() == 7


def test_the_command_names_each_bad_line_and_imports_nothing(account, after_the_close, tmp_path, capsys):
    bad = tmp_path / "fills.csv"
    bad.write_text(sample("generic_fills.csv").decode().replace("T-1002", "").replace("GOOGL,BUY", "GOOGL,SHORT"))

    with pytest.raises(CommandError, match=r"2 bad row\(s\): nothing was imported\."):
        call_command("import_fills", str(bad), "--format", "csv", "--account", account.code)

    assert capsys.readouterr().err.splitlines() == [
        "line 3: execution_id is missing", "line 4: side 'SHORT' is not BUY or SELL"]
    assert not Fill.objects.exists()


def test_the_command_dry_run_and_an_unknown_account(account, after_the_close, capsys):
    path = str(SAMPLES / "generic_fills.csv")

    call_command("import_fills", path, "--format", "csv", "--account", account.code, "--dry-run")
    with pytest.raises(CommandError, match="no account with code 'NOPE'"):
        call_command("import_fills", path, "--format", "csv", "--account", "NOPE")

    assert "Would import 3 execution(s) into PAPER-trader" in capsys.readouterr().out
    assert not Fill.objects.exists()


def test_execution_ids_that_differ_only_in_letter_case_are_one_execution(account, after_the_close):
    row = "2024-03-12T10:15:00-04:00,AMZN,BUY,20,175.05,1.00,{}\n"
    text = "executed_at,symbol,side,quantity,price,commission,execution_id\n" + row.format("ex-1") + row.format("EX-1")

    report = fills_import(account=account, content=text.encode(), file_format="csv")
    again = fills_import(account=account, content=text.upper().encode(), file_format="csv")

    assert (report.booking.imported, report.booking.duplicates) == (1, 1)
    assert (again.booking.imported, again.booking.duplicates) == (0, 2)
    assert list(Fill.objects.values_list("external_id", flat=True)) == ["ex-1"]
