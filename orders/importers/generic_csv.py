"""The generic CSV: ``executed_at,symbol,side,quantity,price,commission,execution_id`` (README, "Real trade history").

The header names the columns (any order, any case); ``order_id`` is optional (executions sharing it are
one order) and other columns are ignored. ``executed_at`` is ISO 8601; without a UTC offset it is New
York time. ``side`` is BUY or SELL, ``quantity`` and ``price`` positive, ``commission`` what was paid
(blank: 0; negative: a rebate).
"""

from __future__ import annotations

from marketdata.calendar import market_tz
from orders.importers.base import (
    ExternalExecution,
    FileError,
    ParsedFile,
    RowError,
    commission_money,
    decimal_read,
    id_read,
    iso_time_read,
    positive_6dp,
    symbol_read,
)
from orders.importers.csv_rows import csv_rows

COLUMNS = ("executed_at", "symbol", "side", "quantity", "price", "commission", "execution_id")
OPTIONAL = ("order_id",)
SIDES = {"BUY": "BUY", "SELL": "SELL"}


def parse(text: str) -> ParsedFile:
    result = ParsedFile()
    try:
        _read(text, result)
    except FileError as exc:
        result.error(exc.line, exc.message)
    return result


def _read(text: str, result: ParsedFile) -> None:
    rows = csv_rows(text)
    header = next(rows, None)
    if header is None:
        raise FileError(1, "the file is empty")
    header_line, names = header
    columns = {name.strip().lower(): index for index, name in enumerate(names)}
    missing = [name for name in COLUMNS if name not in columns]
    if missing:
        raise FileError(header_line, f"the header lacks the column(s) {', '.join(missing)} "
                                     f"(expected {','.join(COLUMNS)})")
    for line, cells in rows:
        result.rows += 1
        try:
            result.executions.append(_execution(line, cells, columns, len(names)))
        except RowError as exc:
            result.error(line, str(exc))


def _execution(line: int, cells: list[str], columns: dict[str, int], width: int) -> ExternalExecution:
    if len(cells) != width:
        raise RowError(f"expected {width} fields like the header, found {len(cells)}")

    def cell(name: str) -> str:
        return cells[columns[name]]

    side = SIDES.get(cell("side").strip().upper())
    if side is None:
        raise RowError(f"side {cell('side')!r} is not BUY or SELL")
    commission = cell("commission").strip() or "0"
    return ExternalExecution(
        line=line,
        execution_id=id_read(cell("execution_id"), "execution_id"),
        symbol=symbol_read(cell("symbol")),
        side=side,
        quantity=positive_6dp(decimal_read(cell("quantity"), "quantity"), "quantity"),
        price=positive_6dp(decimal_read(cell("price"), "price"), "price"),
        commission=commission_money(decimal_read(commission, "commission")),
        executed_at=iso_time_read(cell("executed_at"), "executed_at", naive_tz=market_tz()),
        broker_order_id=id_read(cell("order_id"), "order_id") if "order_id" in columns and cell("order_id").strip() else "",
    )
