"""The tick pipeline (spec 1.2): one entry point for every feed.

``ticks_ingest`` stores the latest quote of each tick of a batch (a feed's cycle), publishes the
batch as one message to the channel-layer group ``prices`` (the WebSocket hub) and hands it to
the tick listeners that other apps register at start-up (the AlertEngine, the paper broker's
resting orders). Listeners run through the Celery task ``marketdata.tasks.tick_dispatch``:
inline on the embedded default, on a worker in production. marketdata knows nothing of
trading: it only calls what was registered.

One message per batch rather than per tick: every socket subscribed to prices receives each
group message, so a cycle of 21 symbols costs each socket one channel-layer message, not 21
(measured in ``benchmarks/load_system.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from marketdata.models import Instrument, Quote

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tick:
    symbol: str
    price: Decimal
    timestamp: datetime
    source: str
    volume: int = 0

    def as_message(self) -> dict:
        return {
            "symbol": self.symbol,
            "price": str(self.price),
            "timestamp": self.timestamp.isoformat(),
            "source": self.source,
            "volume": self.volume,
        }


TickListener = Callable[[Tick], None]
_listeners: dict[str, TickListener] = {}


def tick_listener_register(name: str, listener: TickListener) -> None:
    """Register (or replace) a listener by name; apps call this from ``AppConfig.ready``."""
    _listeners[name] = listener


def tick_listeners() -> dict[str, TickListener]:
    return dict(_listeners)


PRICE_PLACES = Decimal("0.000001")


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
    """One ``price.ticks`` message to the ``prices`` group and one listener task for the batch."""
    from marketdata.tasks import tick_dispatch
    from notifications.events import PRICES_GROUP, group_send_safely

    if not ticks:
        return
    messages = [tick.as_message() for tick in ticks]
    group_send_safely(PRICES_GROUP, {"type": "price.ticks", "ticks": messages})
    tick_dispatch.delay(messages)


def tick_from_message(message: dict) -> Tick:
    return Tick(
        symbol=message["symbol"],
        price=Decimal(message["price"]),
        timestamp=datetime.fromisoformat(message["timestamp"]),
        source=message.get("source", "feed"),
        volume=int(message.get("volume", 0)),
    )


def tick_run_listeners(tick: Tick) -> dict[str, str]:
    """Run every listener; one failing never stops the others. Returns name -> "ok" | error."""
    outcome: dict[str, str] = {}
    for name, listener in tick_listeners().items():
        try:
            listener(tick)
            outcome[name] = "ok"
        except Exception as exc:  # isolate listeners: a broken alert must not stop order matching
            logger.exception("tick listener %s failed on %s", name, tick.symbol)
            outcome[name] = f"error: {exc}"
    return outcome
