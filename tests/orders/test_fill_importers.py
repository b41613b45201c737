"""The broker file readers (``orders.importers``): what each line of a file becomes, read without a database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest

from orders.importers import READERS

SAMPLES = Path(__file__).parent / "samples"
UTC = dt.timezone.utc
IBKR_HEADER = ('"ClientAccountID","CurrencyPrimary","AssetClass","Symbol","DateTime","Quantity","TradePrice",'
               '"IBCommission","IBExecID","Buy/Sell"')


def read(file_format: str, text: str):
    return READERS[file_format](text)


def errors(parsed) -> list[tuple[int, str]]:
    return [(note.line, note.message) for note in parsed.errors]


def ibkr_row(**values) -> str:
    row = {"ClientAccountID": "U1", "CurrencyPrimary": "USD", "AssetClass": "STK", "Symbol": "AAPL",
           "DateTime": "20240311;094510", "Quantity": "10", "TradePrice": "172.50", "IBCommission": "-1",
           "IBExecID": "E1", "Buy/Sell": "BUY", **values}
    return ",".join(f'"{row[name]}"' for name in IBKR_HEADER.replace('"', "").split(","))


# --- IBKR Flex ------------------------------------------------------------------------------------------------


def test_the_ibkr_sample_reads_every_stock_execution_in_new_york_time():
    parsed = read("ibkr-flex", (SAMPLES / "ibkr_flex_trades.csv").read_text())

    assert not parsed.errors and parsed.rows == 10
    first, sale_part = parsed.executions[0], parsed.executions[3]
    assert (first.symbol, first.side, first.quantity, first.price, first.commission, first.execution_id,
            first.broker_order_id) == ("AAPL", "BUY", D("100"), D("172.5"), D("1.00"), "0000e0d5.65ee9a01.01.01",
                                       "512345601")
    assert first.executed_at == dt.datetime(2024, 3, 11, 13, 45, 10, tzinfo=UTC)  # 09:45:10 EDT (DST began 03-10)
    assert (sale_part.side, sale_part.quantity, sale_part.commission) == ("SELL", D("80"), D("0.40"))


def test_ibkr_without_header_and_trailer_records_repeats_a_header_per_section():
    text = "\n".join([
        IBKR_HEADER, ibkr_row(), ibkr_row(IBExecID="E2", Quantity="-10", **{"Buy/Sell": "SELL"}),
        '"ClientAccountID","CurrencyPrimary","Amount","Type"', '"U1","USD","-1.50","Other Fees"',
        IBKR_HEADER, ibkr_row(IBExecID="E3", Symbol="MSFT"),
    ])

    parsed = read("ibkr-flex", text)

    assert not parsed.errors and not parsed.skipped
    assert [(e.line, e.execution_id, e.side) for e in parsed.executions] == [(2, "E1", "BUY"), (3, "E2", "SELL"),
                                                                           (7, "E3", "BUY")]


@pytest.mark.parametrize(("written", "expected"), [
    ("20240311;094510", dt.datetime(2024, 3, 11, 13, 45, 10, tzinfo=UTC)),
    ("2024-03-11;09:45:10", dt.datetime(2024, 3, 11, 13, 45, 10, tzinfo=UTC)),
    ("2024-03-11 09:45:10", dt.datetime(2024, 3, 11, 13, 45, 10, tzinfo=UTC)),
    ("20240311094510", dt.datetime(2024, 3, 11, 13, 45, 10, tzinfo=UTC)),
    ("08-Mar-24;09:45:10", dt.datetime(2024, 3, 8, 14, 45, 10, tzinfo=UTC)),  # EST, before the switch
    ("20240311;094510 +01:00", dt.datetime(2024, 3, 11, 8, 45, 10, tzinfo=UTC)),
])
def test_ibkr_date_and_time_spellings(written, expected):
    parsed = read("ibkr-flex", "\n".join([IBKR_HEADER, ibkr_row(DateTime=written)]))

    assert not parsed.errors and parsed.executions[0].executed_at == expected


def test_ibkr_trade_date_and_trade_time_columns_stand_in_for_date_time():
    header = IBKR_HEADER.replace('"DateTime"', '"TradeDate","TradeTime"')
    row = ibkr_row(DateTime="x").replace('"x"', '"20240311","094510"')

    parsed = read("ibkr-flex", f"{header}\n{row}")

    assert parsed.executions[0].executed_at == dt.datetime(2024, 3, 11, 13, 45, 10, tzinfo=UTC)


def test_ibkr_bad_rows_are_named_with_their_lines():
    text = "\n".join([
        IBKR_HEADER,
        ibkr_row(DateTime="03/11/2024;094510"),
        ibkr_row(Quantity="-10"),
        ibkr_row(**{"Buy/Sell": "BUY (Ca.)"}),
        ibkr_row(DateTime="20240311"),
        ibkr_row(ClientAccountID="U2"),
        ibkr_row(TradePrice="172.1234567"),
        ibkr_row(Quantity="0"),
    ])

    parsed = read("ibkr-flex", text)

    assert errors(parsed) == [
        (2, "date '03/11/2024;094510': MM/dd and dd/MM cannot be told apart; set the Flex Query's date format to "
            "yyyyMMdd or yyyy-MM-dd"),
        (3, "Buy/Sell says BUY but Quantity -10 is a sell (sales are negative)"),
        (4, "a cancelled trade (BUY (Ca.)): run the Flex Query with 'Include Canceled Trades' off"),
        (5, "DateTime '20240311' has no time of day: add Date/Time to the Flex Query"),
        (6, "trades of a second IBKR account U2 (the file's account U1 starts on line 2): import one account's "
            "trades per file"),
        (7, "TradePrice 172.1234567 has more than 6 decimal places"),
        (8, "Quantity is 0"),
    ]


def test_ibkr_other_asset_classes_and_currencies_are_skipped_and_listed():
    text = "\n".join([IBKR_HEADER, ibkr_row(AssetClass="FUT", Symbol="ESM4"),
                      ibkr_row(CurrencyPrimary="EUR", Symbol="SAP"), ibkr_row(IBExecID="E9")])

    parsed = read("ibkr-flex", text)

    assert [(n.line, n.message) for n in parsed.skipped] == [
        (2, "ESM4 is a future: AlphaLoop's ledger books US stocks"),
        (3, "SAP traded in EUR: AlphaLoop's ledger is in USD"),
    ]
    assert [e.execution_id for e in parsed.executions] == ["E9"]


def test_ibkr_a_query_without_the_needed_columns_says_which_to_add():
    parsed = read("ibkr-flex", '"Symbol","Quantity","TradePrice"\n"AAPL","1","2"')

    assert errors(parsed) == [(1, "the trades section lacks the column(s) AssetClass, CurrencyPrimary, IBCommission, "
                                  "DateTime (or TradeDate and TradeTime), IBExecID (or TradeID): add them to the "
                                  "Flex Query")]


def test_ibkr_commissions_are_rounded_to_the_cent_half_up_and_a_rebate_is_negative():
    parsed = read("ibkr-flex", "\n".join([IBKR_HEADER, ibkr_row(IBCommission="-0.355"),
                                          ibkr_row(IBExecID="E2", IBCommission="0.0042")]))

    assert [e.commission for e in parsed.executions] == [D("0.36"), D("0.00")]


def test_ibkr_class_shares_are_written_with_a_dot():
    parsed = read("ibkr-flex", "\n".join([IBKR_HEADER, ibkr_row(Symbol="BRK B")]))

    assert parsed.executions[0].symbol == "BRK.B"


# --- Alpaca -----------------------------------------------------------------------------------------------------


def test_alpaca_activities_are_named_by_the_line_they_start_on():
    text = (SAMPLES / "alpaca_activities_fill.json").read_text().replace('"qty": "4"', '"qty": "four"')

    parsed = read("alpaca", text)

    assert errors(parsed) == [(58, "qty 'four' is not a plain decimal number")]


def test_alpaca_execution_ids_are_the_part_after_the_date_and_nanoseconds_are_cut_to_microseconds():
    parsed = read("alpaca", (SAMPLES / "alpaca_activities_fill.json").read_text())

    last = parsed.executions[-1]
    assert (last.execution_id, last.broker_order_id, last.sequence) == (
        "0a1b2c3d-4e5f-4607-8819-2a3b4c5d6e66", "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d05", D("6"))
    text = '[{"id": "1::x", "activity_type": "FILL", "transaction_time": "2024-03-11T13:45:10.123456789Z", ' \
           '"type": "fill", "price": "1", "qty": "1", "side": "sell_short", "symbol": "amd"}]'
    only = read("alpaca", text).executions[0]
    assert (only.executed_at, only.side, only.symbol) == (dt.datetime(2024, 3, 11, 13, 45, 10, 123456, tzinfo=UTC),
                                                          "SELL", "AMD")


def test_alpaca_other_activities_options_and_crypto_are_skipped_and_listed():
    fill = '{"id": "1::a", "activity_type": "FILL", "transaction_time": "2024-03-11T13:45:10Z", "type": "fill", ' \
           '"price": "1", "qty": "1", "side": "buy", "symbol": "%s"}'
    text = "[\n" + ",\n".join([
        '{"id": "20240311::d", "activity_type": "DIV", "net_amount": "1.20", "symbol": "AAPL"}',
        fill % "AAPL240419C00175000", fill.replace("1::a", "2::b") % "BTC/USD", fill.replace("1::a", "3::c") % "AAPL",
    ]) + "\n]"

    parsed = read("alpaca", text)

    assert [(n.line, n.message) for n in parsed.skipped] == [
        (2, "DIV activity, not a fill"),
        (3, "AAPL240419C00175000 is an option contract: AlphaLoop's ledger books US equities"),
        (4, "BTC/USD is crypto: AlphaLoop's ledger books US equities"),
    ]
    assert [e.execution_id for e in parsed.executions] == ["c"]


@pytest.mark.parametrize(("text", "expected"), [
    ("", [(1, "the file is empty")]),
    ('{"activities": []}', [(1, "expected a JSON list of activities, as GET /v2/account/activities/FILL answers")]),
    ('[\n{"id": "1::a",\n', [(3, "not valid JSON: Expecting property name enclosed in double quotes")]),
    ("[\n" + "[" * 100_000, [(2, "not valid JSON for an activity: nested too deeply")]),
    ('[{"activity_type": "FILL", "id": "1::a", "type": "fill", "side": "buy", "symbol": "AAPL", "qty": 1e999999, '
     '"price": "1", "transaction_time": "2024-03-11T13:45:10"}]', [(1, "qty 1E+999999 is too large")]),
    ('[{"activity_type": "FILL", "id": "1::a", "type": "fill", "side": "buy", "symbol": "AAPL", "qty": "1", '
     '"price": "1", "transaction_time": "2024-03-11T13:45:10"}]',
     [(1, "transaction_time '2024-03-11T13:45:10' has no UTC offset (write Z or e.g. -04:00)")]),
    ("[] []", [(1, "not valid JSON: text after the list of activities")]),
])
def test_alpaca_files_that_are_not_an_activity_list_say_where(text, expected):
    assert errors(read("alpaca", text)) == expected


# --- the generic CSV ------------------------------------------------------------------------------------------------


def test_the_generic_csv_takes_its_columns_in_any_order_and_case_with_an_optional_order_id():
    text = ("\ufeffExecution_ID,Symbol,Side,Quantity,Price,Commission,Executed_At,Order_ID,Note\r\n"
            "X1,msft,sell,2.5,404.123456,,2024-03-11T10:00:00-04:00,O-7,my note\r\n")

    parsed = read("csv", text.encode().decode("utf-8-sig"))

    only = parsed.executions[0]
    assert (only.execution_id, only.symbol, only.side, only.quantity, only.price, only.commission, only.broker_order_id) == (
        "X1", "MSFT", "SELL", D("2.5"), D("404.123456"), D("0.00"), "O-7")
    assert only.executed_at == dt.datetime(2024, 3, 11, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(("row", "message"), [
    ("2024-03-11T10:00:00,AAPL,BUY,-1,1,0,X", "quantity must be positive, not -1"),
    ("2024-03-11T10:00:00,AAPL,BUY,1e3,1,0,X", "quantity '1e3' is not a plain decimal number"),
    ("2024-03-11T10:00:00,AAPL,BUY,1,0,0,X", "price must be positive, not 0"),
    ("2024-03-11T10:00:00,AAPL,BUY,1,1,abc,X", "commission 'abc' is not a plain decimal number"),
    ("11/03/2024 10:00,AAPL,BUY,1,1,0,X", "executed_at '11/03/2024 10:00' is not a date and time such as "
                                          "2024-03-15T14:30:05-04:00"),
    ("2024-02-30T10:00:00,AAPL,BUY,1,1,0,X", "executed_at '2024-02-30T10:00:00' is not a valid date and time "
                                             "(day is out of range for month)"),
    ("2024-03-11T10:00:00,AAPL INC!,BUY,1,1,0,X", "symbol 'AAPL INC!' is not a ticker (letters, digits, '.' and '-', "
                                                  "at most 32)"),
    ("2024-03-11T10:00:00,AAPL,BUY,1,1,0,X,extra", "expected 7 fields like the header, found 8"),
    ("2024-03-11T10:00:00,AAPL,BUY,1,1,0," + "x" * 65, "execution_id '" + "x" * 65 + "' is not an id (printable "
                                                        "ASCII, at most 64 characters)"),
    ("2024-03-11T10:00:00,AAPL,BUY,1,1,0,Ä-1", "execution_id 'Ä-1' is not an id (printable ASCII, at most 64 characters)"),
])
def test_a_bad_generic_row_says_what_is_wrong(row, message):
    parsed = read("csv", f"executed_at,symbol,side,quantity,price,commission,execution_id\n\n{row}\n")

    assert errors(parsed) == [(3, message)]


def test_the_generic_csv_header_must_name_every_column():
    parsed = read("csv", "date,symbol,side,qty,price\n2024-03-11,AAPL,BUY,1,1\n")

    assert errors(parsed) == [(1, "the header lacks the column(s) executed_at, quantity, commission, execution_id "
                                  "(expected executed_at,symbol,side,quantity,price,commission,execution_id)")]
