"""Writes of market data: CSV imports (bars, fundamentals) and the synthetic demo universe."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from django.db import connection, transaction

from alphaloop.money import PRICE_PLACES
from marketdata.models import Bar, FundamentalSnapshot, Instrument

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%Y/%m/%d", "%d-%b-%Y", "%Y%m%d")
BAR_COLUMNS = {
    "date": ("date", "timestamp", "time"),
    "open": ("open",),
    "high": ("high",),
    "low": ("low",),
    "close": ("close", "close/last", "price"),
    "adj_close": ("adj close", "adj_close", "adjusted close", "adjclose"),
    "volume": ("volume", "vol"),
}


class ImportErrorReport(ValueError):
    """Bad rows, each with its line number; nothing was written."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors[:20]) + (f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""))
        self.errors = errors


@dataclass
class ImportResult:
    symbol: str
    created: int = 0
    updated: int = 0
    first: date | None = None
    last: date | None = None
    warnings: list[str] = field(default_factory=list)


def upsert_conflict_target(fields: list[str]) -> list[str] | None:
    """MySQL/MariaDB upsert on any unique key and refuse an explicit target; SQLite needs one."""
    return fields if connection.features.supports_update_conflicts_with_target else None


def _parse_date(text: str) -> date:
    text = text.strip()
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(text[:10] if fmt == "%Y-%m-%d" else text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"unreadable date {text!r}")


def _parse_decimal(text: str, name: str) -> Decimal:
    cleaned = text.strip().replace("$", "").replace(",", "")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{name} is not a number ({text!r})") from None
    if not value.is_finite():
        raise ValueError(f"{name} is not a finite number ({text!r})")
    return value


def _column_map(header: list[str]) -> dict[str, int]:
    normalized = [h.strip().lower() for h in header]
    mapping = {}
    for target, aliases in BAR_COLUMNS.items():
        for alias in aliases:
            if alias in normalized:
                mapping[target] = normalized.index(alias)
                break
    missing = [c for c in ("date", "open", "high", "low", "close") if c not in mapping]
    if missing:
        raise ImportErrorReport([f"line 1: missing column(s) {', '.join(missing)} in header {header}"])
    return mapping


def _open_text(source: str | Path | IO[str]) -> IO[str]:
    if isinstance(source, (str, Path)):
        return open(source, newline="", encoding="utf-8-sig")
    return source


def bars_parse_csv(source: str | Path | IO[str]) -> list[dict]:
    """Parse Date,Open,High,Low,Close[,Adj Close],Volume in any column order; raise with every bad line."""
    handle = _open_text(source)
    try:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ImportErrorReport(["line 1: the file is empty"])
        columns = _column_map(header)
        rows, errors, seen = [], [], {}
        for line_no, raw in enumerate(reader, start=2):
            if not raw or all(not cell.strip() for cell in raw):
                continue
            try:
                if len(raw) < len(header):
                    raise ValueError(f"expected {len(header)} fields, found {len(raw)}")
                row = {"date": _parse_date(raw[columns["date"]])}
                for name in ("open", "high", "low", "close"):
                    row[name] = _parse_decimal(raw[columns[name]], name).quantize(PRICE_PLACES)
                row["adj_close"] = (
                    _parse_decimal(raw[columns["adj_close"]], "adj close").quantize(PRICE_PLACES)
                    if "adj_close" in columns and raw[columns["adj_close"]].strip()
                    else None
                )
                volume = _parse_decimal(raw[columns["volume"]], "volume") if "volume" in columns and raw[columns["volume"]].strip() else Decimal(0)
                if volume < 0 or volume != volume.to_integral_value():
                    raise ValueError(f"volume must be a whole non-negative number ({volume})")
                row["volume"] = int(volume)
                if min(row["open"], row["high"], row["low"], row["close"]) <= 0:
                    raise ValueError("prices must be positive")
                if row["low"] > min(row["open"], row["close"]) or row["high"] < max(row["open"], row["close"]):
                    raise ValueError("high/low do not contain open and close")
                if row["date"] in seen:
                    raise ValueError(f"duplicate date {row['date']} (also on line {seen[row['date']]})")
                seen[row["date"]] = line_no
                rows.append(row)
            except ValueError as exc:
                errors.append(f"line {line_no}: {exc}")
        if errors:
            raise ImportErrorReport(errors)
        return rows
    finally:
        if isinstance(source, (str, Path)):
            handle.close()


@transaction.atomic
def bars_import(*, symbol: str, rows: list[dict], name: str = "", is_synthetic: bool = False) -> ImportResult:
    """Upsert daily bars for ``symbol`` in one transaction (re-importing updates in place)."""
    symbol = symbol.strip().upper()
    instrument, _ = Instrument.objects.get_or_create(
        symbol=symbol,
        defaults={"name": name or symbol, "is_synthetic": is_synthetic,
                  "asset_class": Instrument.ETF if symbol == "SPY" else Instrument.STOCK},
    )
    existing = set(Bar.objects.filter(instrument=instrument, date__in=[r["date"] for r in rows]).values_list("date", flat=True))
    Bar.objects.bulk_create(
        [Bar(instrument=instrument, **row) for row in rows],
        batch_size=2000,
        update_conflicts=True,
        unique_fields=upsert_conflict_target(["instrument", "date"]),
        update_fields=["open", "high", "low", "close", "adj_close", "volume"],
    )
    result = ImportResult(symbol=symbol, updated=len(existing), created=len(rows) - len(existing))
    if rows:
        result.first, result.last = min(r["date"] for r in rows), max(r["date"] for r in rows)
    return result


def bars_import_csv(*, source: str | Path | IO[str], symbol: str) -> ImportResult:
    return bars_import(symbol=symbol, rows=bars_parse_csv(source))


@transaction.atomic
def fundamentals_import(*, records: list[dict], is_synthetic: bool = False) -> int:
    """Upsert fundamentals snapshots: dicts with symbol, as_of, eps, book_value_per_share, roe."""
    instruments = {i.symbol: i for i in Instrument.objects.filter(symbol__in={r["symbol"] for r in records})}
    unknown = sorted({r["symbol"] for r in records} - set(instruments))
    if unknown:
        raise ImportErrorReport([f"unknown symbol(s): {', '.join(unknown)}; import their bars first"])
    FundamentalSnapshot.objects.bulk_create(
        [
            FundamentalSnapshot(
                instrument=instruments[r["symbol"]],
                as_of=r["as_of"],
                eps=r.get("eps"),
                book_value_per_share=r.get("book_value_per_share"),
                roe=r.get("roe"),
                is_synthetic=is_synthetic,
            )
            for r in records
        ],
        batch_size=2000,
        update_conflicts=True,
        unique_fields=upsert_conflict_target(["instrument", "as_of"]),
        update_fields=["eps", "book_value_per_share", "roe", "is_synthetic"],
    )
    return len(records)


def fundamentals_parse_csv(source: str | Path | IO[str]) -> list[dict]:
    """CSV with columns symbol, as_of, eps, book_value_per_share, roe (header case-insensitive)."""
    handle = _open_text(source)
    try:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            raise ImportErrorReport(["line 1: the file is empty"])
        fields = {name.strip().lower(): name for name in reader.fieldnames}
        missing = [c for c in ("symbol", "as_of") if c not in fields]
        if missing:
            raise ImportErrorReport([f"line 1: missing column(s) {', '.join(missing)}"])
        records, errors = [], []
        for line_no, raw in enumerate(reader, start=2):
            try:
                record = {"symbol": raw[fields["symbol"]].strip().upper(), "as_of": _parse_date(raw[fields["as_of"]])}
                for name in ("eps", "book_value_per_share", "roe"):
                    text = (raw.get(fields.get(name, ""), "") or "").strip()
                    record[name] = _parse_decimal(text, name) if text else None
                records.append(record)
            except ValueError as exc:
                errors.append(f"line {line_no}: {exc}")
        if errors:
            raise ImportErrorReport(errors)
        return records
    finally:
        if isinstance(source, (str, Path)):
            handle.close()


def quotes_from_last_close(*, symbols: list[str] | None = None, source: str = "close") -> int:
    """Set each instrument's quote to its last daily close (used after imports and seeding)."""
    from marketdata.pipeline import quote_store

    count = 0
    instruments = Instrument.objects.all() if symbols is None else Instrument.objects.filter(symbol__in=symbols)
    for instrument in instruments:
        bar = instrument.bars.order_by("-date").first()
        if bar is not None:
            quote_store(symbol=instrument.symbol, price=bar.close, source=source, volume=0)
            count += 1
    return count
