"""The Interactive Brokers Flex Query trades section, as CSV (README, "Real trade history").

A Flex Query (Performance & Reports > Flex Queries, section Trades, format CSV) writes one header row of
column names, then a row per trade. With "Include header and trailer records" the rows carry a code in
front: ``BOF``/``BOA``/``BOS`` (file, account, section begin), ``HEADER,<section>,<names>...``,
``DATA,<section>,<values>...``, ``EOS``/``EOA``/``EOF``; without it a query of several sections repeats a
header row at the start of each. Either way the trades are the rows under a header naming ``TradePrice``;
other sections' rows are passed over.

Columns read (IBKR's names): ``Symbol``, ``AssetClass``, ``CurrencyPrimary``, ``Quantity`` (negative for a
sale), ``TradePrice``, ``IBCommission`` (what IBKR charged, written negative), ``DateTime`` (or ``TradeDate``
and ``TradeTime``), ``IBExecID`` (or ``TradeID``); when present ``Buy/Sell`` (checked against the sign),
``IBOrderID`` (executions of one order), ``IBCommissionCurrency``, ``ClientAccountID`` (one account per file)
and ``LevelOfDetail`` (only ``EXECUTION`` rows are trades; ORDER, CLOSED_LOT and summary rows are skipped).

- Dates: ``yyyyMMdd`` (IBKR's default), ``yyyy-MM-dd`` or ``dd-MMM-yy``; times ``HHmmss`` or ``HH:mm:ss``,
  separated by ``;`` (the default), ``,``, a space or nothing. ``MM/dd/yyyy`` and ``dd/MM/yyyy`` cannot be
  told apart and are refused. IBKR writes US-equity trade times in US Eastern time without an offset: they
  are read as America/New_York (an explicit ``+hh:mm`` offset is honoured).
- Stocks (``STK``) in USD are booked. Other asset classes (options, futures, forex conversions, bonds, ...)
  and trades in other currencies are skipped and listed; cancelled trades (``BUY (Ca.)``) are refused.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from marketdata.calendar import market_tz
from orders.importers.base import (
    ExternalExecution,
    FileError,
    ParsedFile,
    RowError,
    commission_money,
    decimal_read,
    id_read,
    positive_6dp,
    symbol_read,
)
from orders.importers.csv_rows import csv_rows

RECORD_CODES = {"BOF", "BOA", "BOS", "EOS", "EOA", "EOF"}
HEADER_MARKERS = {"ClientAccountID", "Symbol", "CurrencyPrimary", "AssetClass"}
REQUIRED = ("Symbol", "AssetClass", "CurrencyPrimary", "Quantity", "TradePrice", "IBCommission")
ASSET_CLASSES = {
    "OPT": "an option", "FOP": "a futures option", "FUT": "a future", "CASH": "a forex conversion", "BOND": "a bond",
    "WAR": "a warrant", "CFD": "a CFD", "FUND": "a mutual fund", "CMDTY": "a commodity", "CRYPTO": "crypto",
    "BILL": "a T-bill", "IOPT": "a structured product",
}
MONTHS = {name: index for index, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
DATE_FORMATS = (
    (re.compile(r"(\d{4})(\d{2})(\d{2})"), ("y", "m", "d")),
    (re.compile(r"(\d{4})-(\d{2})-(\d{2})"), ("y", "m", "d")),
    (re.compile(r"(\d{2})-([A-Za-z]{3})-(\d{2})"), ("d", "b", "y2")),
)
TIME = re.compile(r"(\d{2}):?(\d{2}):?(\d{2})\s*(?:([+-])(\d{2}):?(\d{2}))?")
DATE_TIME = re.compile(r"(?P<date>\d{8}|\d{4}-\d{2}-\d{2}|\d{2}-[A-Za-z]{3}-\d{2})[;, T]?(?P<time>\d{2}:?\d{2}:?\d{2}.*)")


class _Skip(Exception):
    """A row left out on purpose (not a US-equity execution)."""


def parse(text: str) -> ParsedFile:
    result = ParsedFile()
    try:
        _read(text, result)
    except FileError as exc:
        result.error(exc.line, exc.message)
    return result


def _read(text: str, result: ParsedFile) -> None:
    header: dict[str, int] | None = None  # the trades section's columns while in it
    seen_trades = False
    accounts: dict[str, int] = {}  # IBKR account -> the line it first appears on
    for line, cells in csv_rows(text):
        code = cells[0].strip()
        if code in RECORD_CODES:
            continue
        if code == "HEADER" or (code != "DATA" and HEADER_MARKERS & {cell.strip() for cell in cells}):
            try:
                header = _trades_header(cells[2:] if code == "HEADER" else cells)
            except RowError as exc:
                raise FileError(line, str(exc)) from None
            seen_trades = seen_trades or header is not None
            continue
        if header is None:
            if not seen_trades and code != "DATA":
                raise FileError(line, "a row before the trades section's header row (its column names)")
            continue  # a row of another section
        result.rows += 1
        try:
            result.executions.append(_execution(line, cells[2:] if code == "DATA" else cells, header, accounts))
        except RowError as exc:
            result.error(line, str(exc))
        except _Skip as skip:
            result.skip(line, str(skip))
    if not seen_trades:
        raise FileError(1, "no trades section: no header row names Symbol and TradePrice")


def _trades_header(names: list[str]) -> dict[str, int] | None:
    """The trades section's columns by name; None for another section's header."""
    columns = {name.strip(): index for index, name in enumerate(names)}
    if "TradePrice" not in columns:
        return None
    missing = [name for name in REQUIRED if name not in columns]
    if "DateTime" not in columns and not {"TradeDate", "TradeTime"} <= set(columns):
        missing.append("DateTime (or TradeDate and TradeTime)")
    if "IBExecID" not in columns and "TradeID" not in columns:
        missing.append("IBExecID (or TradeID)")
    if missing:
        raise RowError(f"the trades section lacks the column(s) {', '.join(missing)}: add them to the Flex Query")
    return columns


def _execution(line: int, cells: list[str], columns: dict[str, int], accounts: dict[str, int]) -> ExternalExecution:
    if len(cells) != len(columns):
        raise RowError(f"expected {len(columns)} fields like the header, found {len(cells)}")

    def cell(name: str) -> str:
        return cells[columns[name]].strip() if name in columns else ""

    level = cell("LevelOfDetail").upper()
    if level and level != "EXECUTION":
        raise _Skip(f"LevelOfDetail {level}: not an execution row")
    account = cell("ClientAccountID")
    if account and accounts and account not in accounts:
        other, other_line = next(iter(accounts.items()))
        raise RowError(f"trades of a second IBKR account {account} (the file's account {other} starts on line "
                       f"{other_line}): import one account's trades per file")
    if account:
        accounts.setdefault(account, line)
    symbol = cell("Symbol")
    asset_class = cell("AssetClass").upper()
    if asset_class != "STK":
        kind = ASSET_CLASSES.get(asset_class, f"asset class {asset_class or '(blank)'}")
        raise _Skip(f"{symbol or 'this trade'} is {kind}: AlphaLoop's ledger books US stocks")
    currency = cell("CurrencyPrimary").upper()
    if currency != "USD":
        raise _Skip(f"{symbol} traded in {currency or '(no currency)'}: AlphaLoop's ledger is in USD")
    commission_currency = cell("IBCommissionCurrency").upper()
    if commission_currency and commission_currency != "USD":
        raise RowError(f"the commission is in {commission_currency}, not USD")
    quantity = decimal_read(cell("Quantity"), "Quantity", strip_thousands=True)
    side = _side(cell("Buy/Sell"), quantity)
    return ExternalExecution(
        line=line,
        execution_id=id_read(cell("IBExecID") or cell("TradeID"), "IBExecID"),
        symbol=symbol_read(symbol, "Symbol"),
        side=side,
        quantity=positive_6dp(abs(quantity), "Quantity"),
        price=positive_6dp(decimal_read(cell("TradePrice"), "TradePrice", strip_thousands=True), "TradePrice"),
        commission=commission_money(-decimal_read(cell("IBCommission") or "0", "IBCommission", strip_thousands=True)),
        executed_at=_executed_at(cell("DateTime") or f"{cell('TradeDate')};{cell('TradeTime')}"),
        broker_order_id=id_read(cell("IBOrderID"), "IBOrderID") if cell("IBOrderID") else "",
    )


def _side(buy_sell: str, quantity: Decimal) -> str:
    if "(CA.)" in buy_sell.upper():
        raise RowError(f"a cancelled trade ({buy_sell}): run the Flex Query with 'Include Canceled Trades' off")
    if quantity == 0:
        raise RowError("Quantity is 0")
    by_sign = "BUY" if quantity > 0 else "SELL"
    if buy_sell and buy_sell.upper() != by_sign:
        raise RowError(f"Buy/Sell says {buy_sell} but Quantity {quantity} is a {by_sign.lower()} (sales are negative)")
    return by_sign


def _executed_at(text: str) -> dt.datetime:
    """An IBKR date and time (see the module docstring) as an aware datetime."""
    raw = text.strip().strip(";")
    if "/" in raw:
        raise RowError(f"date {raw!r}: MM/dd and dd/MM cannot be told apart; set the Flex Query's date format to "
                       "yyyyMMdd or yyyy-MM-dd")
    match = DATE_TIME.fullmatch(raw)
    if match is None:
        if re.fullmatch(r"\d{8}|\d{4}-\d{2}-\d{2}|\d{2}-[A-Za-z]{3}-\d{2}", raw):
            raise RowError(f"DateTime {raw!r} has no time of day: add Date/Time to the Flex Query")
        raise RowError(f"DateTime {raw!r} is not an IBKR date and time such as 20240315;093512")
    day = _date(match["date"])
    clock = TIME.fullmatch(match["time"].strip())
    if clock is None:
        raise RowError(f"DateTime {raw!r}: the time is not HHmmss or HH:mm:ss")
    hour, minute, second, sign, offset_hours, offset_minutes = clock.groups()
    try:
        moment = dt.datetime.combine(day, dt.time(int(hour), int(minute), int(second)))
    except ValueError:
        raise RowError(f"DateTime {raw!r}: no such time of day") from None
    if sign is None:
        return moment.replace(tzinfo=market_tz())
    offset = dt.timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
    return moment.replace(tzinfo=dt.timezone(offset if sign == "+" else -offset))


def _date(text: str) -> dt.date:
    for pattern, parts in DATE_FORMATS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        values = dict(zip(parts, match.groups(), strict=True))
        month = MONTHS.get(values["b"].upper()) if "b" in values else int(values["m"])
        year = int(values["y"]) if "y" in values else 2000 + int(values["y2"])
        try:
            return dt.date(year, month or 0, int(values["d"]))
        except ValueError:
            break
    raise RowError(f"date {text!r} is not a valid date")
