"""The domain events: frozen, timestamped facts that producers publish on the spine (``alphaloop.bus``).

An event carries plain values (ids, strings, ``Decimal``, datetimes, tuples of ticks), never a model
instance, so it reads the same in the producer's process and in a Celery worker, and it holds the state as
it was when the fact happened (an order moves NEW -> ACCEPTED -> FILLED within one transaction; each
``OrderUpdated`` shows its own step). ``ts_event`` is when the fact happened, ``ts_init`` when the event
was made (as nautilus_trader's events do).

Two kinds of events reach a person, and the notifications app (a pure sink) subscribes to both by kind:
a ``Notice`` is told to the account holder on the channels they chose (``notification_type``; title, body
and data are the event's own words), a ``LiveUpdate`` is pushed on a live channel of the WebSocket.
``producers`` names who publishes each event, for the registry.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from django.utils import timezone

from alphaloop.money import price_display, quantity_display


@dataclass(frozen=True, kw_only=True)
class Event:
    producers: ClassVar[tuple[str, ...]] = ()
    ts_event: datetime = field(default_factory=timezone.now)
    ts_init: datetime = field(default_factory=timezone.now)


class Notice(ABC):
    """An event the account holder is told about; ``account_id`` None means every account holder."""

    notification_type: ClassVar[str]
    account_id: int | None

    @abstractmethod
    def title(self) -> str:
        """The notification's one-line title."""

    def body(self) -> str:
        return ""

    def data(self) -> dict[str, Any]:
        return {}


class LiveUpdate(ABC):
    """An event pushed on a live WebSocket channel of its user (spec 3.6)."""

    live_channel: ClassVar[str]
    user_id: int

    @abstractmethod
    def live_event(self) -> str:
        """The ``event`` of the wire message."""

    @abstractmethod
    def live_data(self) -> dict[str, Any]:
        """The ``data`` of the wire message."""


@dataclass(frozen=True)
class Tick:
    symbol: str
    price: Decimal
    timestamp: datetime
    source: str
    volume: int = 0

    def as_message(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "price": str(self.price), "timestamp": self.timestamp.isoformat(),
                "source": self.source, "volume": self.volume}


# --- market data ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PriceTicks(Event):
    """A feed's batch of ticks, stored as the latest quotes (one event per batch, not per tick)."""

    producers = ("marketdata.pipeline",)
    ticks: tuple[Tick, ...]


@dataclass(frozen=True, kw_only=True)
class MarketDataStale(Event):
    """The live feed went silent in the session (once per silent spell); ``describe`` says since when."""

    producers = ("marketdata.feeds",)
    feed: str
    last_tick_at: datetime | None
    silent_seconds: int
    describe: str


# --- orders ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrderUpdated(Event, LiveUpdate):
    """An order reached a status; ``order`` is the order as the API renders it at that status."""

    producers = ("orders.publish",)
    live_channel = "order_update"
    user_id: int
    account_id: int
    order: dict[str, Any]

    def live_event(self) -> str:
        return str(self.order["status"])

    def live_data(self) -> dict[str, Any]:
        return self.order


@dataclass(frozen=True, kw_only=True)
class OrderRejected(Event, Notice):
    producers = ("orders.publish",)
    notification_type = "order_rejected"
    account_id: int
    order: dict[str, Any]

    def title(self) -> str:
        return f"Order refused: {self.order['side']} {quantity_display(self.order['quantity'])} {self.order['symbol']}"

    def body(self) -> str:
        return f"{self.order['reject_code']}: {self.order['reject_reason']}"

    def data(self) -> dict[str, Any]:
        return self.order


@dataclass(frozen=True, kw_only=True)
class FillRecorded(Event, Notice):
    """An execution booked on an order (the ledger moved cash and the position)."""

    producers = ("orders.publish",)
    notification_type = "order_filled"
    account_id: int
    fill_id: int
    order: dict[str, Any]
    symbol: str
    side: str
    price: Decimal
    quantity: Decimal
    commission: Decimal
    realized_pnl: Decimal

    def title(self) -> str:
        return f"Filled {self.side} {quantity_display(self.quantity)} {self.symbol} @ {price_display(self.price)}"

    def body(self) -> str:
        status = str(self.order["status"]).replace("_", " ").lower()
        return f"Order #{self.order['id']} is {status}; commission {self.commission}."

    def data(self) -> dict[str, Any]:
        return {"fill_id": self.fill_id, "order": self.order, "price": str(self.price), "quantity": str(self.quantity),
                "commission": str(self.commission), "realized_pnl": str(self.realized_pnl)}


@dataclass(frozen=True, kw_only=True)
class FillsImported(Event):
    """Executions booked from the broker's records, possibly older than fills booked before them."""

    producers = ("orders.external_fills",)
    account_id: int
    symbols: tuple[str, ...]
    since: datetime


@dataclass(frozen=True, kw_only=True)
class WordedNotice(Event, Notice):
    """A notice whose producer chose its words: ``headline`` and ``detail`` as written, ``facts`` as its data."""

    account_id: int
    headline: str
    detail: str
    facts: dict[str, Any]

    def title(self) -> str:
        return self.headline

    def body(self) -> str:
        return self.detail

    def data(self) -> dict[str, Any]:
        return self.facts


@dataclass(frozen=True, kw_only=True)
class RiskWarning(WordedNotice):
    producers = ("orders.publish",)
    notification_type = "risk_warning"


@dataclass(frozen=True, kw_only=True)
class ApprovalRequested(WordedNotice):
    producers = ("orders.publish",)
    notification_type = "approval_requested"


# --- alerts ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AlertFired(WordedNotice):
    """An alert triggered and its action ran; ``facts`` is what the notification's data carries."""

    producers = ("alerts.services",)
    notification_type = "price_alert"
    alert_id: int
    history_id: int

    def data(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "history_id": self.history_id, **self.facts}


# --- equity and journal ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class TradeClosed(Event):
    """FIFO matching closed a trade; ``live`` is False when a rebuild (backfill) found it."""

    producers = ("equity.services",)
    attribution_id: int
    live: bool


@dataclass(frozen=True, kw_only=True)
class EquityUpdated(Event, LiveUpdate):
    producers = ("equity.services",)
    live_channel = "equity_update"
    user_id: int
    snapshot: dict[str, Any]

    def live_event(self) -> str:
        return "snapshot"

    def live_data(self) -> dict[str, Any]:
        return self.snapshot


@dataclass(frozen=True, kw_only=True)
class JournalDrafted(Event, Notice):
    producers = ("journal.services",)
    notification_type = "journal_draft"
    account_id: int
    journal_id: int
    symbol: str
    direction: str
    realized_pnl: Decimal

    def title(self) -> str:
        return f"Journal draft: {self.direction} {self.symbol} closed, P&L {self.realized_pnl}"

    def body(self) -> str:
        return "A closed trade is waiting for your notes, emotion and mistakes before its review."

    def data(self) -> dict[str, Any]:
        return {"journal_id": self.journal_id, "symbol": self.symbol, "realized_pnl": str(self.realized_pnl)}


# --- signals ---------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SignalFired(Event, Notice):
    """A new strong shared signal; every account holder is told."""

    producers = ("factors.services",)
    notification_type = "signal_fired"
    account_id: int | None = None
    signal_id: int
    symbol: str
    direction: str
    strength: Decimal
    score: Decimal
    as_of: date
    win_rate: Decimal | None
    sample_size: int
    rr_ratio: Decimal | None

    def title(self) -> str:
        return f"{self.direction} {self.symbol} (strength {self.strength})"

    def body(self) -> str:
        evidence = (f"win rate {self.win_rate:.0%} over {self.sample_size} past signals, R:R {self.rr_ratio}"
                    if self.win_rate is not None else "no comparable history yet")
        return f"Composite score {self.score} on {self.as_of}; {evidence}."

    def data(self) -> dict[str, Any]:
        return {"signal_id": self.signal_id, "symbol": self.symbol, "direction": self.direction,
                "strength": str(self.strength), "as_of": self.as_of.isoformat()}


# --- notifications ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NotificationSent(Event):
    """A notice went out; ``delivered`` is True when at least one channel sent or queued it."""

    producers = ("notifications.subscribers",)
    notification_type: str
    account_id: int
    data: dict[str, Any]
    delivered: bool


@dataclass(frozen=True, kw_only=True)
class ChatCommand(Event):
    """A command the trader sent from the configured Telegram chat (``/approve TOKEN``)."""

    producers = ("notifications.telegram",)
    COMMANDS: ClassVar[tuple[str, ...]] = ("approve", "reject")
    command: str
    args: str
    chat_id: str


@dataclass(frozen=True, kw_only=True)
class ChatReplied(Event):
    """The answer to a ``ChatCommand``, for the chat it came from."""

    producers = ("alerts.approvals", "notifications.telegram")
    chat_id: str
    text: str


EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (PriceTicks, MarketDataStale, OrderUpdated, OrderRejected, FillRecorded, FillsImported,
                RiskWarning, ApprovalRequested, AlertFired, TradeClosed, EquityUpdated, JournalDrafted, SignalFired,
                NotificationSent, ChatCommand, ChatReplied)
}


# --- encoding for the background task (JSON) ---------------------------------------------------------


def event_encode(event: Event) -> dict[str, Any]:
    return {"type": type(event).__name__,
            "fields": {f.name: _encode(getattr(event, f.name)) for f in dataclasses.fields(event)}}


def event_decode(encoded: dict[str, Any]) -> Event:
    event_type = EVENT_TYPES[encoded["type"]]
    hints = typing.get_type_hints(event_type)
    return event_type(**{name: _decode(hints[name], value) for name, value in encoded["fields"].items()})


def _encode(value: Any) -> Any:
    if isinstance(value, Tick):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, (Decimal, datetime, date)):
        return value.isoformat() if isinstance(value, (datetime, date)) else str(value)
    return value


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return _decode(next(arg for arg in typing.get_args(hint) if arg is not type(None)), value)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_decode(item, element) for element in value)
    if hint is Tick:
        hints = typing.get_type_hints(Tick)
        return Tick(**{name: _decode(hints[name], element) for name, element in value.items()})
    if hint is Decimal:
        return Decimal(value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is date:
        return date.fromisoformat(value)
    return value
