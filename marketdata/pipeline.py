"""The tick pipeline (spec 1.2): one entry point for every feed.

``ticks_ingest`` stores the latest quote of each tick of a batch (a feed's cycle), publishes the
batch as one ``PriceTicks`` event on the spine (``alphaloop.bus``). marketdata knows nothing of
trading nor of sockets: the notifications app pushes the batch to the WebSocket group ``prices``, and
the AlertEngine and the paper broker's resting orders react in the background (one Celery task per
batch: inline on the embedded default, on a worker in production).

One event per batch rather than per tick: every socket subscribed to prices receives each group
message, so a cycle of 21 symbols costs each socket one channel-layer message, not 21 (measured in
``benchmarks/load_system.py``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from alphaloop import bus
from alphaloop.events import PriceTicks, Tick
from alphaloop.money import PRICE_PLACES
from marketdata.models import Instrument, Quote

logger = logging.getLogger(__name__)


class UnknownSymbol(ValueError):
    pass


def quote_store(*, symbol: str, price: Decimal, timestamp: datetime | None = None, source: str = "feed", volume: int = 0) -> Tick:
    """Upsert the latest quote for ``symbol``; returns the tick that was stored."""
    ticks, problems = quotes_store([(symbol, price, volume)], timestamp=timestamp or timezone.now(), source=source)
    if problems:
        raise problems[0]
    return ticks[0]


def quotes_store(quotes: list[tuple[str, Decimal, int]], *, timestamp: datetime,
                 source: str) -> tuple[list[Tick], list[ValueError]]:
    """Upsert the latest quote of each (symbol, price, volume) in two queries, whatever the batch size.

    Returns the stored ticks and, for each tick left out, why (an unknown symbol, a price that is
    not a positive number). Of one symbol twice in a batch, the last price is the stored quote.
    """
    from marketdata.services import upsert_conflict_target

    ids = dict(Instrument.objects.filter(symbol__in={symbol for symbol, _, _ in quotes}).values_list("symbol", "id"))
    ticks, problems, rows = [], [], {}
    for symbol, price, volume in quotes:
        if not price.is_finite() or price <= 0:
            problems.append(ValueError(f"{symbol}: price must be a positive number, got {price}"))
            continue
        if symbol not in ids:
            problems.append(UnknownSymbol(f"unknown symbol {symbol!r}"))
            continue
        tick = Tick(symbol=symbol, price=price.quantize(PRICE_PLACES), timestamp=timestamp, source=source, volume=volume)
        ticks.append(tick)
        rows[ids[symbol]] = Quote(instrument_id=ids[symbol], price=tick.price, timestamp=timestamp, source=source,
                                  volume=volume)
    if rows:
        Quote.objects.bulk_create(list(rows.values()), update_conflicts=True,
                                  unique_fields=upsert_conflict_target(["instrument"]),
                                  update_fields=["price", "timestamp", "source", "volume"])
    return ticks, problems


def tick_ingest(*, symbol: str, price: Decimal, timestamp: datetime | None = None, source: str = "feed", volume: int = 0) -> Tick:
    """One tick: stored, published and dispatched; an unknown symbol or a bad price raises."""
    tick = quote_store(symbol=symbol, price=price, timestamp=timestamp, source=source, volume=volume)
    ticks_publish([tick])
    return tick


def ticks_ingest(quotes: list[tuple[str, Decimal, int]], *, source: str = "feed") -> list[Tick]:
    """A feed's batch of (symbol, price, volume): each stored, then published and dispatched together.

    The ticks of a batch share one timestamp, the moment the batch arrived (a feed's cycle is one
    observation). A tick that cannot be stored (unknown symbol, bad price) is logged and left out;
    the rest go on.
    """
    ticks, problems = quotes_store(quotes, timestamp=timezone.now(), source=source)
    for problem in problems:
        logger.warning("tick dropped: %s", problem)
    ticks_publish(ticks)
    return ticks


def ticks_publish(ticks: list[Tick]) -> None:
    """One ``PriceTicks`` event for the batch."""
    if ticks:
        bus.publish(PriceTicks(ticks=tuple(ticks), ts_event=ticks[0].timestamp))
