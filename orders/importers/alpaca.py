"""Alpaca account activities of type FILL: the JSON list ``GET /v2/account/activities/FILL`` answers.

Each entry looks like ``{"id": "20240315143005123::<uuid>", "activity_type": "FILL", "transaction_time":
"2024-03-15T14:30:05.123Z", "type": "fill" | "partial_fill", "price": "190.05", "qty": "10", "side": "buy" |
"sell" | "sell_short", "symbol": "AAPL", "leaves_qty": "0", "order_id": "<uuid>", "cum_qty": "10",
"order_status": "filled"}``. Several pages saved into one list are fine (the order does not matter).

- The execution id is the part of ``id`` after ``::``: the execution id Alpaca's trade stream reports for the
  same fill, so a fill the stream booked is recognised as already there.
- Alpaca charges no commission on US equities (regulatory fees are separate FEE activities): commission 0.
- Other activity types (a full ``/v2/account/activities`` list: DIV, FEE, TRANS, ...), options (OCC
  symbols such as ``AAPL240119C00190000``) and crypto (``BTC/USD``) are skipped and listed.
- Entries at the same millisecond (Alpaca lists them in no fixed order) are booked by their order's
  ``cum_qty``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal

from orders.importers.base import (
    ExternalExecution,
    FileError,
    ParsedFile,
    RowError,
    decimal_read,
    id_read,
    iso_time_read,
    positive_6dp,
    symbol_read,
)

SIDES = {"buy": "BUY", "sell": "SELL", "sell_short": "SELL"}
FILL_TYPES = {"fill", "partial_fill"}
OCC_OPTION = re.compile(r"[A-Z]{1,6}\d{6}[CP]\d{8}", re.ASCII)
WHITESPACE = re.compile(r"\s*")


def parse(text: str) -> ParsedFile:
    result = ParsedFile()
    try:
        _read(text, result)
    except FileError as exc:
        result.error(exc.line, exc.message)
    return result


def activities_read(entries: list) -> ParsedFile:
    """Activities Alpaca's REST API answered, already decoded: each is known by its place in the list (1-based)."""
    result = ParsedFile()
    for line, entry in enumerate(entries, start=1):
        result.rows += 1
        try:
            result.executions.append(_execution(line, entry))
        except RowError as exc:
            result.error(line, str(exc))
        except _Skip as skip:
            result.skip(line, str(skip))
    return result


def _read(text: str, result: ParsedFile) -> None:
    """Each element of the list is decoded on its own, so every activity is known by the line it starts on."""
    decoder = json.JSONDecoder(parse_float=Decimal, parse_int=Decimal)
    position = _space(text, 0)
    if position == len(text):
        raise FileError(1, "the file is empty")
    if text[position] != "[":
        raise FileError(_line(text, position),
                        "expected a JSON list of activities, as GET /v2/account/activities/FILL answers")
    position = _space(text, position + 1)
    closed = text.startswith("]", position)
    if closed:
        position = _space(text, position + 1)
    while not closed:
        line = _line(text, position)
        try:
            entry, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise FileError(exc.lineno, f"not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise FileError(line, "not valid JSON for an activity: nested too deeply") from None
        result.rows += 1
        try:
            result.executions.append(_execution(line, entry))
        except RowError as exc:
            result.error(line, str(exc))
        except _Skip as skip:
            result.skip(line, str(skip))
        position = _space(text, position)
        closed = text.startswith("]", position)
        if not closed and not text.startswith(",", position):
            raise FileError(_line(text, position), "not valid JSON: expected ',' or ']' after an activity")
        position = _space(text, position + 1)
    if position != len(text):
        raise FileError(_line(text, position), "not valid JSON: text after the list of activities")


def _space(text: str, position: int) -> int:
    return WHITESPACE.match(text, position).end()


class _Skip(Exception):
    """An activity left out on purpose (not an equity fill)."""


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _execution(line: int, entry: object) -> ExternalExecution:
    if not isinstance(entry, dict):
        raise RowError("an activity must be a JSON object")
    activity_type = entry.get("activity_type")
    if activity_type != "FILL":
        if isinstance(activity_type, str) and activity_type:
            raise _Skip(f"{activity_type} activity, not a fill")
        raise RowError("activity_type is missing (expected FILL)")
    execution_id = id_read(entry.get("id"), "id").rsplit("::", 1)[-1]
    if entry.get("type") not in FILL_TYPES:
        raise RowError(f"type {entry.get('type')!r} is not fill or partial_fill")
    side = SIDES.get(str(entry.get("side", "")).lower())
    if side is None:
        raise RowError(f"side {entry.get('side')!r} is not buy, sell or sell_short")
    raw_symbol = entry.get("symbol")
    if isinstance(raw_symbol, str) and "/" in raw_symbol:
        raise _Skip(f"{raw_symbol} is crypto: AlphaLoop's ledger books US equities")
    if isinstance(raw_symbol, str) and OCC_OPTION.fullmatch(raw_symbol.strip().upper()):
        raise _Skip(f"{raw_symbol} is an option contract: AlphaLoop's ledger books US equities")
    cum_qty = entry.get("cum_qty")
    return ExternalExecution(
        line=line,
        execution_id=id_read(execution_id, "id (after '::')"),
        symbol=symbol_read(raw_symbol),
        side=side,
        quantity=positive_6dp(decimal_read(entry.get("qty"), "qty"), "qty"),
        price=positive_6dp(decimal_read(entry.get("price"), "price"), "price"),
        commission=Decimal("0.00"),
        executed_at=iso_time_read(entry.get("transaction_time"), "transaction_time", naive_tz=None),
        broker_order_id=id_read(entry["order_id"], "order_id") if entry.get("order_id") else "",
        sequence=decimal_read(cum_qty, "cum_qty") if cum_qty not in (None, "") else Decimal("0"),
    )
