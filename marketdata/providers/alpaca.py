"""Daily bars from Alpaca's market-data API: ``manage.py fetch_bars --provider alpaca``.

Bars are asked for with ``adjustment=all``: split **and** dividend adjusted, so a series runs
continuously through splits and ex-dividend dates the way charting sites draw it; ``adj_close``
therefore equals ``close``. Alpaca stamps a daily bar at midnight New York time; its date is that
session. Every page (``next_page_token``) is read by alpaca-py; prices arrive as JSON numbers and
are stored as the decimals they were written as. Nothing is written unless every bar of every
symbol is sound, and a re-fetch upserts (``marketdata.services.bars_import``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from django.db import transaction

from alphaloop.alpaca_clients import historical_data_client
from marketdata.calendar import market_tz
from marketdata.services import PRICE_PLACES, ImportErrorReport, ImportResult, bars_import

FEEDS = tuple(feed.value for feed in (DataFeed.IEX, DataFeed.SIP, DataFeed.DELAYED_SIP))


class ProviderError(Exception):
    """The provider could not be asked or refused the request (its message says why)."""


def _price(value, name: str) -> Decimal:
    # JSON numbers reach Python as floats; repr() gives back the shortest text that round-trips,
    # which is the number as Alpaca wrote it.
    price = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
    if not price.is_finite() or price <= 0:
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return price.quantize(PRICE_PLACES)


def _row(bar: dict) -> dict:
    moment = dt.datetime.fromisoformat(str(bar["t"]).replace("Z", "+00:00"))
    row = {"date": moment.astimezone(market_tz()).date()}
    for key, name in (("o", "open"), ("h", "high"), ("l", "low"), ("c", "close")):
        row[name] = _price(bar[key], name)
    if row["low"] > min(row["open"], row["close"]) or row["high"] < max(row["open"], row["close"]):
        raise ValueError("high/low do not contain open and close")
    volume = bar.get("v", 0)
    if isinstance(volume, float) and volume.is_integer():
        volume = int(volume)
    if not isinstance(volume, int) or isinstance(volume, bool) or volume < 0:
        raise ValueError(f"volume must be a whole non-negative number ({volume!r})")
    row["adj_close"], row["volume"] = row["close"], volume
    return row


def alpaca_daily_bars(*, symbols: list[str], start: dt.date, end: dt.date | None = None,
                      feed: str | None = None) -> dict[str, list[dict]]:
    """Adjusted daily bars per symbol from ``start`` to ``end`` (inclusive), parsed into bar rows."""
    request = StockBarsRequest(
        symbol_or_symbols=symbols, timeframe=TimeFrame.Day, adjustment=Adjustment.ALL,
        start=dt.datetime.combine(start, dt.time(0), tzinfo=market_tz()),
        end=None if end is None else dt.datetime.combine(end, dt.time(23, 59, 59), tzinfo=market_tz()),
        feed=DataFeed(feed) if feed else None,
    )
    try:
        raw = historical_data_client().get_stock_bars(request)
    except APIError as exc:
        status = exc.status_code
        try:
            message = exc.message
        except (ValueError, KeyError, TypeError):
            message = str(exc)[:200]
        raise ProviderError(f"Alpaca refused the request (HTTP {status}): {message}") from None
    except requests.RequestException as exc:
        raise ProviderError(f"Alpaca could not be reached: {type(exc).__name__}") from None
    rows: dict[str, list[dict]] = {symbol: [] for symbol in symbols}
    errors = []
    for symbol, bars in (raw or {}).items():
        for bar in bars:
            try:
                rows.setdefault(symbol, []).append(_row(bar))
            except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                errors.append(f"{symbol} {bar.get('t', '?')}: {exc}")
    if errors:
        raise ImportErrorReport(errors)
    return rows


def alpaca_bars_import(*, symbols: list[str], start: dt.date, end: dt.date | None = None,
                       feed: str | None = None) -> list[ImportResult]:
    """Fetch every symbol's bars, then upsert them all in one transaction (a re-run updates in place)."""
    fetched = alpaca_daily_bars(symbols=symbols, start=start, end=end, feed=feed)
    with transaction.atomic():
        return [bars_import(symbol=symbol, rows=rows) if rows else ImportResult(symbol=symbol)
                for symbol, rows in fetched.items()]


#: Sessions re-read before a symbol's last stored bar: a late correction is picked up, and a changed
#: close there means Alpaca re-adjusted the history (a split or dividend since the last update).
UPDATE_OVERLAP_DAYS = 7
#: How far back a symbol with no bars yet starts.
UPDATE_FIRST_DAYS = 365
ADJUSTED = Decimal("0.0001")


def bars_update_symbols() -> list[str]:
    """The universe (active instruments) and the benchmark, minus instruments holding synthetic demo bars."""
    from django.conf import settings

    from marketdata.models import Instrument

    wanted = set(Instrument.objects.filter(active=True).values_list("symbol", flat=True))
    wanted.add(settings.EQUITY_BENCHMARK_SYMBOL.upper())
    synthetic = set(Instrument.objects.filter(symbol__in=wanted, is_synthetic=True).values_list("symbol", flat=True))
    return sorted(wanted - synthetic)


def alpaca_bars_update(*, symbols: list[str], today: dt.date) -> list[ImportResult]:
    """Bring each symbol's adjusted daily bars up to ``today`` through the ``import_bars`` upsert.

    Each symbol is read from ``UPDATE_OVERLAP_DAYS`` before its last stored bar. Where an overlapping
    bar's close differs from the stored one, Alpaca has re-adjusted the past (a split or dividend): that
    symbol's whole stored history is fetched again, so the series stays on one adjusted scale. All
    symbols are written in one transaction, or none.
    """
    from django.db.models import Max, Min

    from marketdata.models import Bar

    stored = {row["instrument__symbol"]: (row["first"], row["last"]) for row in
              Bar.objects.filter(instrument__symbol__in=symbols).values("instrument__symbol")
              .annotate(first=Min("date"), last=Max("date"))}
    starts = {symbol: (stored[symbol][1] - dt.timedelta(days=UPDATE_OVERLAP_DAYS) if symbol in stored
                       else today - dt.timedelta(days=UPDATE_FIRST_DAYS)) for symbol in symbols}
    fetched = alpaca_daily_bars(symbols=symbols, start=min(starts.values()), end=today)
    readjusted = []
    for symbol, rows in fetched.items():
        rows[:] = [row for row in rows if row["date"] >= starts[symbol]]
        closes = dict(Bar.objects.filter(instrument__symbol=symbol, date__in=[r["date"] for r in rows])
                      .values_list("date", "close"))
        if any(abs(row["close"] - closes[row["date"]]) > ADJUSTED for row in rows if row["date"] in closes):
            readjusted.append(symbol)
    for symbol in readjusted:
        fetched[symbol] = alpaca_daily_bars(symbols=[symbol], start=stored[symbol][0], end=today)[symbol]
    with transaction.atomic():
        return [bars_import(symbol=symbol, rows=rows) if rows else ImportResult(symbol=symbol)
                for symbol, rows in sorted(fetched.items())]
