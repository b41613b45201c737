"""The tick pipeline (spec 1.2): one entry point for every feed.

``tick_ingest`` stores the latest quote, publishes the tick to the channel-layer group
``prices`` (the WebSocket hub) and hands it to the tick listeners that other apps register
at start-up (the AlertEngine, the paper broker's resting orders). Listeners run through the
Celery task ``marketdata.tasks.tick_dispatch``: inline on the embedded default, on a worker in
production. marketdata knows nothing of trading: it only calls what was registered.
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
    """Store, publish to ``prices``, and dispatch to the listeners."""
    from marketdata.tasks import tick_dispatch
    from notifications.events import PRICES_GROUP, group_send_safely

    tick = quote_store(symbol=symbol, price=price, timestamp=timestamp, source=source, volume=volume)
    group_send_safely(PRICES_GROUP, {"type": "price.tick", "tick": tick.as_message()})
    tick_dispatch.delay(tick.as_message())
    return tick


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
