"""Reads of market data shaped for the engines (pandas panels) and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pandas as pd
from django.conf import settings
from django.db.models import Max, OuterRef, Subquery

from marketdata import calendar
from marketdata.models import Bar, Instrument, Quote

PANEL_FIELDS = ("open", "high", "low", "close", "volume")


def bars_frame(symbols: list[str] | None = None, start: date | None = None, end: date | None = None) -> pd.DataFrame:
    """Long frame of bars: columns symbol, date, open, high, low, close, volume (floats)."""
    qs = Bar.objects.all()
    if symbols is not None:
        qs = qs.filter(instrument__symbol__in=symbols)
    if start is not None:
        qs = qs.filter(date__gte=start)
    if end is not None:
        qs = qs.filter(date__lte=end)
    rows = qs.values_list("instrument__symbol", "date", "open", "high", "low", "close", "volume")
    frame = pd.DataFrame.from_records(list(rows), columns=["symbol", "date", *PANEL_FIELDS])
    for column in PANEL_FIELDS:
        frame[column] = frame[column].astype("float64")
    frame["date"] = pd.to_datetime(frame["date"])
    return frame


def panel_load(symbols: list[str] | None = None, start: date | None = None, end: date | None = None) -> dict[str, pd.DataFrame]:
    """The panel contract of the engines: field -> DataFrame (session dates x symbols, float64)."""
    frame = bars_frame(symbols, start, end)
    panel = {}
    for field in PANEL_FIELDS:
        wide = frame.pivot(index="date", columns="symbol", values=field) if len(frame) else pd.DataFrame(dtype="float64")
        wide.index = pd.DatetimeIndex(wide.index, name="date")
        wide.columns.name = None
        panel[field] = wide.sort_index().astype("float64")
    return panel


def latest_prices(symbols: list[str] | None = None) -> dict[str, Decimal]:
    """Latest quote per symbol, falling back to the last daily close."""
    quotes = Quote.objects.select_related("instrument")
    if symbols is not None:
        quotes = quotes.filter(instrument__symbol__in=symbols)
    prices = {q.instrument.symbol: q.price for q in quotes}
    fallback = Instrument.objects.exclude(symbol__in=list(prices))
    if symbols is not None:
        fallback = fallback.filter(symbol__in=symbols)
    last_close = Bar.objects.filter(instrument=OuterRef("pk")).order_by("-date").values("close")[:1]
    for symbol, close in fallback.annotate(last_close=Subquery(last_close)).values_list("symbol", "last_close"):
        if close is not None:
            prices[symbol] = close
    return prices


def close_on_or_before(symbol: str, day: date) -> Decimal | None:
    return (
        Bar.objects.filter(instrument__symbol=symbol, date__lte=day).order_by("-date").values_list("close", flat=True).first()
    )


def previous_close(symbol: str, before: date) -> Decimal | None:
    """The last daily close strictly before ``before`` (the reference for % change)."""
    return (
        Bar.objects.filter(instrument__symbol=symbol, date__lt=before).order_by("-date").values_list("close", flat=True).first()
    )


@dataclass(frozen=True)
class FeedStaleness:
    """The streaming feed has been silent too long in the session (``FEED_STALE_SECONDS``)."""

    last_tick_at: datetime | None  # the last tick the feed stored; None if it never ticked
    silent_seconds: int  # since that tick, or since the session opened when that was later

    def describe(self) -> str:
        last = "no tick yet" if self.last_tick_at is None else f"the last at {self.last_tick_at:%H:%M:%S} UTC"
        return (f"No tick from the {settings.MARKET_FEED} market feed for {self.silent_seconds} s ({last}; "
                f"FEED_STALE_SECONDS={settings.FEED_STALE_SECONDS})")


def feed_last_tick_at() -> datetime | None:
    """When the market feed last stored a tick (its ticks carry ``source="feed"``)."""
    return Quote.objects.filter(source="feed").aggregate(last=Max("timestamp"))["last"]


def feed_staleness(now: datetime) -> FeedStaleness | None:
    """Whether the live feed is stale at ``now``; None when it is fresh or is not expected to tick.

    Only ``MARKET_FEED=alpaca`` is expected to tick: its prices are the market's, so silence means
    AlphaLoop no longer knows the price. The synthetic and replay feeds are simulations (a quiet one
    is not an outdated market) and ``none`` has no feed at all: they are never stale. Outside the
    regular session nothing trades, so nothing is stale; in the session the clock starts at the later
    of the last tick and the open (the first ``FEED_STALE_SECONDS`` of a session are grace).
    """
    if settings.MARKET_FEED != "alpaca" or not calendar.is_open(now):
        return None
    opened = calendar.session_open_close(calendar.current_session(now))[0]
    last = feed_last_tick_at()
    silent = (now - max(opened, last) if last is not None else now - opened).total_seconds()
    if silent < settings.FEED_STALE_SECONDS:
        return None
    return FeedStaleness(last_tick_at=last, silent_seconds=int(silent))
