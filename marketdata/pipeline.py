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


class UnknownSymbol(ValueError):
    pass


def quote_store(*, symbol: str, price: Decimal, timestamp: datetime | None = None, source: str = "feed", volume: int = 0) -> Tick:
    """Upsert the latest quote for ``symbol``; returns the tick that was stored."""
    if price <= 0 or not price.is_finite():
        raise ValueError("price must be a positive number")
    instrument = Instrument.objects.filter(symbol=symbol).only("id").first()
    if instrument is None:
        raise UnknownSymbol(f"unknown symbol {symbol!r}")
    tick = Tick(symbol=symbol, price=price.quantize(Decimal("0.000001")), timestamp=timestamp or timezone.now(), source=source, volume=volume)
    Quote.objects.update_or_create(
        instrument=instrument,
        defaults={"price": tick.price, "timestamp": tick.timestamp, "source": source, "volume": volume},
    )
    return tick


def tick_ingest(*, symbol: str, price: Decimal, timestamp: datetime | None = None, source: str = "feed", volume: int = 0) -> Tick:
    """One tick: stored, published and dispatched; an unknown symbol or a bad price raises."""
    tick = quote_store(symbol=symbol, price=price, timestamp=timestamp, source=source, volume=volume)
    ticks_publish([tick])
    return tick


def ticks_ingest(quotes: list[tuple[str, Decimal, int]], *, source: str = "feed") -> list[Tick]:
    """A feed's batch of (symbol, price, volume): each stored, then published and dispatched together.

    A tick that cannot be stored (unknown symbol, bad price) is logged and left out; the rest go on.
    """
    ticks = []
    for symbol, price, volume in quotes:
        try:
            ticks.append(quote_store(symbol=symbol, price=price, source=source, volume=volume))
        except ValueError as exc:
            logger.warning("tick %s %s dropped: %s", symbol, price, exc)
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
