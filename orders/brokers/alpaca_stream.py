"""Alpaca's ``trade_updates`` into the ledger: the trade-stream worker (``manage.py run_broker_stream``, or a
thread of ``manage.py serve`` when ``ORDER_MODE=REAL`` routes orders to Alpaca).

Two threads. The stream thread runs alpaca-py's TradingStream (``alphaloop.alpaca_clients.trading_stream``, at
``ALPACA_TRADING_STREAM_URL``) and only queues what arrives: the SDK reconnects after a dropped or half-open
socket (no pong within ``ALPACA_STREAM_PING_SECONDS``), a failed connect or a refused login, waiting a jittered,
doubling delay capped at ``ALPACA_STREAM_MAX_BACKOFF_SECONDS``. The booker thread takes the queue in order and
applies each update through ``orders.broker_updates``:

===========================================  ===================================================================
``new``, ``accepted``                         the order is ACCEPTED (its Alpaca id kept)
``partial_fill``, ``fill``                    a fill booked once per Alpaca execution id (``fill_record``); an
                                              order AlphaLoop does not know is booked as a ``BROKER`` order
``canceled``, ``expired``, ``rejected``,      CANCELLED, EXPIRED, REJECTED, CANCELLED, with Alpaca's reason
``replaced``
===========================================  ===================================================================

After every (re)connect, before any update of the new connection, the worker catches up over REST: Alpaca's
FILL activities since the last execution booked (minus a minute, paged with ``page_token``) are booked, and
AlphaLoop's open orders are brought to Alpaca's state (accepted, then their fills, then cancelled, expired or
rejected). Executions are idempotent on their id, so what the stream and the catch-up both report is booked
once, and what happened while disconnected is booked from the activities. A catch-up or an update that fails
(Alpaca or the database down) is retried by a catch-up, with the same doubling delay, from where the gap began.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import queue
import random
import threading
import time
from decimal import Decimal
from typing import Any

from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderStatus, QueryOrderStatus
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import GetOrdersRequest
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from alphaloop import alpaca_clients
from orders import broker_updates
from orders.importers import ExternalExecution
from orders.importers import alpaca as alpaca_activities
from orders.importers.base import RowError, decimal_read, id_read, iso_time_read, positive_6dp, symbol_read
from orders.models import Order
from orders.reconciliation import broker_reconcile_all

logger = logging.getLogger(__name__)

ORIGIN = "alpaca:trade_updates"
CATCH_UP_ORIGIN = "alpaca:catch_up"
#: How far before the last booked execution the catch-up starts reading (activities may be listed a moment late).
CATCH_UP_MARGIN = dt.timedelta(minutes=1)
PAGE_SIZE = 100
OPEN_ORDERS_LIMIT = 500
ACCEPTING_EVENTS = {"new", "accepted"}
FILL_EVENTS = {"fill", "partial_fill"}
CLOSING_EVENTS = {"canceled": Order.CANCELLED, "expired": Order.EXPIRED, "rejected": Order.REJECTED,
                  "replaced": Order.CANCELLED}
CLOSED_STATUSES = {
    OrderStatus.CANCELED: ("canceled", Order.CANCELLED), OrderStatus.EXPIRED: ("expired", Order.EXPIRED),
    OrderStatus.REJECTED: ("rejected", Order.REJECTED), OrderStatus.REPLACED: ("replaced", Order.CANCELLED),
}
SIDES = {"buy": Order.BUY, "sell": Order.SELL, "sell_short": Order.SELL}


def execution_from_update(data: dict) -> ExternalExecution:
    """The execution a ``fill``/``partial_fill`` update reports, read exactly from Alpaca's strings."""
    order = data.get("order") or {}
    side = SIDES.get(str(order.get("side", "")).lower())
    if side is None:
        raise RowError(f"side {order.get('side')!r} is not buy or sell")
    filled = order.get("filled_qty")
    return ExternalExecution(
        line=0, execution_id=id_read(data.get("execution_id"), "execution_id"), symbol=symbol_read(order.get("symbol")),
        side=side, quantity=positive_6dp(decimal_read(data.get("qty"), "qty"), "qty"),
        price=positive_6dp(decimal_read(data.get("price"), "price"), "price"), commission=Decimal("0.00"),
        executed_at=iso_time_read(data.get("timestamp"), "timestamp", naive_tz=None),
        broker_order_id=id_read(order.get("id"), "order.id"),
        sequence=decimal_read(filled, "order.filled_qty") if filled not in (None, "") else Decimal("0"),
    )


def close_reason(event: str, data: dict | None = None) -> str:
    """Alpaca's words for why an order ended: the event, and the ``reason`` Alpaca adds to some (CORPORATE_ACTION)."""
    reason = (data or {}).get("reason")
    order = (data or {}).get("order") or {}
    replaced_by = order.get("replaced_by") if event == "replaced" else None
    text = f"Alpaca: {event}"
    if reason:
        text += f" ({reason})"
    if replaced_by:
        text += f" by order {replaced_by}"
    return text


def backoff_delay(failures: int) -> float:
    """A jittered, doubling delay: half to all of base x 2^(failures-1), capped (the stream's own policy)."""
    base = float(settings.ALPACA_STREAM_BACKOFF_SECONDS)
    cap = float(settings.ALPACA_STREAM_MAX_BACKOFF_SECONDS)
    delay = min(cap, base * 2 ** min(max(failures - 1, 0), 32))
    return delay / 2 + random.uniform(0, delay / 2)


class AlpacaTradeStream:
    """The worker: ``start()`` it, ``stop()`` it; ``step()`` books what is queued (the booker thread loops on it)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._client = alpaca_clients.trading_client()
        self._stream = alpaca_clients.trading_stream(on_connect=self._connected)
        self._stream.subscribe_trade_updates(self._received)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started_at = timezone.now()
        self._catch_up_pending = False
        self._catch_up_since: dt.datetime | None = None
        self._catch_up_due = 0.0
        self._catch_up_failures = 0
        #: What the worker did, for logs and tests: connections seen, catch-ups completed, updates applied.
        self.connections = 0
        self.catch_ups = 0
        self.updates = 0
        self.last_catch_up: dict[str, int] = {}

    # --- the stream thread's side: queue only ------------------------------------------------------------------

    async def _received(self, message: dict) -> None:
        self._queue.put(("update", message))

    def _connected(self) -> None:
        self._queue.put(("connected", None))

    # --- lifecycle ----------------------------------------------------------------------------------------------

    def start(self, *, booker: bool = True) -> AlpacaTradeStream:
        """Start the stream thread and (unless ``booker`` is False: the caller calls ``step``) the booker thread."""
        self._threads = [threading.Thread(target=self._stream.run, name="alpaca-trade-stream", daemon=True)]
        if booker:
            self._threads.append(threading.Thread(target=self._book_forever, name="alpaca-trade-booker", daemon=True))
        for thread in self._threads:
            thread.start()
        logger.info("Alpaca trade stream worker started (%s)",
                    settings.ALPACA_TRADING_STREAM_URL or "Alpaca's own endpoint")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        stream = self._stream
        loop = stream._loop
        if loop is not None and loop.is_running():
            stream.stop()
            try:  # wake the receive at once rather than at its next 5-second timeout
                asyncio.run_coroutine_threadsafe(stream.close(), loop).result(timeout)
            except Exception:  # the loop may be finishing already
                logger.debug("closing the trade stream socket failed", exc_info=True)
        for thread in self._threads:
            thread.join(timeout)
        close_old_connections()

    @property
    def alive(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def _book_forever(self) -> None:
        while not self._stop.is_set():
            close_old_connections()  # this thread's connection, as a request's would be (CONN_MAX_AGE, lost ones)
            try:
                self.step(0.5)
            except Exception:  # never let the booker die: the next catch-up repairs what this step missed
                logger.exception("the trade-stream booker failed; catching up again")
                self._catch_up_request(delay=True)
                self._stop.wait(1.0)
        close_old_connections()

    # --- the booker thread ----------------------------------------------------------------------------------

    def step(self, timeout: float) -> bool:
        """Apply the next queued item, or run a due catch-up; wait up to ``timeout``. True when something ran."""
        wait = timeout
        if self._catch_up_pending:
            wait = max(0.0, min(wait, self._catch_up_due - time.monotonic()))
        try:
            kind, payload = self._queue.get(timeout=wait)
        except queue.Empty:
            kind, payload = "", None
        ran = False
        if kind == "connected":
            self.connections += 1
            logger.info("Alpaca trade stream connected (%d); catching up over REST", self.connections)
            self._catch_up_request(delay=False)
        elif kind == "update":
            ran = True
            try:
                self._apply(payload.get("data") or {})
                self.updates += 1
            except Exception:
                logger.exception("a trade update could not be applied; a catch-up will book it")
                self._catch_up_request(delay=True)
        if self._catch_up_pending and time.monotonic() >= self._catch_up_due:
            ran = True
            self._catch_up_run()
        return ran

    def _apply(self, data: dict) -> None:
        event = str(data.get("event") or "")
        order = data.get("order") or {}
        broker_order_id, client_order_id = str(order.get("id") or ""), str(order.get("client_order_id") or "")
        if event in FILL_EVENTS:
            try:
                execution = execution_from_update(data)
            except RowError as exc:
                logger.error("a %s update of order %s cannot be read (%s); the catch-up books it from the activities",
                             event, broker_order_id, exc)
                self._catch_up_request(delay=True)
                return
            outcome = broker_updates.broker_execution_book(execution=execution, client_order_id=client_order_id,
                                                           origin=ORIGIN)
            logger.info("Alpaca %s %s of order %s: %s", event, execution.describe(), broker_order_id, outcome)
            return
        if event not in ACCEPTING_EVENTS and event not in CLOSING_EVENTS:
            logger.debug("Alpaca %s of order %s: nothing to do", event, broker_order_id)
            return
        found = broker_updates.broker_order_get(broker_order_id=broker_order_id, client_order_id=client_order_id)
        if found is None or found.source == Order.BROKER:
            return  # an order placed outside AlphaLoop: only its executions matter
        at = self._time(data.get("timestamp"))
        if event in ACCEPTING_EVENTS:
            broker_updates.order_broker_accept(order_id=found.pk, broker_order_id=broker_order_id, at=at)
        else:
            if broker_order_id and not found.broker_order_id:
                broker_updates.order_broker_accept(order_id=found.pk, broker_order_id=broker_order_id, at=at)
            broker_updates.order_broker_close(order_id=found.pk, status=CLOSING_EVENTS[event],
                                              reason=close_reason(event, data), at=at)

    @staticmethod
    def _time(raw: Any) -> dt.datetime:
        try:
            return min(iso_time_read(raw, "timestamp", naive_tz=None), timezone.now())
        except RowError:
            return timezone.now()

    # --- the catch-up -----------------------------------------------------------------------------------------

    def _catch_up_request(self, *, delay: bool) -> None:
        """Schedule a catch-up (now, or after the backoff), reading from where the gap began."""
        if not self._catch_up_pending:
            try:
                self._catch_up_since = broker_updates.broker_executions_since() or self._started_at
            except Exception:  # the database is down: start early enough (idempotent bookings make this safe)
                logger.exception("cannot read the last booked execution; catching up from the worker's start")
                self._catch_up_since = self._started_at
            self._catch_up_pending = True
            self._catch_up_due = time.monotonic() + (backoff_delay(self._catch_up_failures + 1) if delay else 0.0)
        elif not delay:
            self._catch_up_due = time.monotonic()

    def _catch_up_run(self) -> None:
        try:
            booked = self.catch_up(since=self._catch_up_since)
        except Exception as exc:
            self._catch_up_failures += 1
            wait = backoff_delay(self._catch_up_failures)
            logger.warning("Alpaca catch-up failed (%s: %s); retrying in %.1f s", type(exc).__name__, exc, wait)
            self._catch_up_due = time.monotonic() + wait
            return
        self._catch_up_pending, self._catch_up_failures = False, 0
        self.catch_ups += 1
        self.last_catch_up = booked
        logger.info("Alpaca catch-up done: %s", booked)
        self._reconcile()

    @staticmethod
    def _reconcile() -> None:
        """Connected and caught up: the books against Alpaca's, at any hour (``orders.reconciliation``)."""
        try:
            outcome = broker_reconcile_all(in_session_only=False)
        except Exception:  # the stream keeps booking; the beat job reconciles again in session
            logger.exception("reconciliation after connecting to Alpaca failed")
            return
        logger.info("Reconciliation after connecting to Alpaca: %s", outcome)

    def catch_up(self, *, since: dt.datetime | None) -> dict[str, int]:
        """Book Alpaca's executions and order states since ``since``. Raises when Alpaca or the database fails."""
        counts = {"booked": 0, "duplicate": 0, "refused": 0, "accepted": 0, "closed": 0}
        states = self._open_order_states()
        for order, found in states:  # first the ids: an activity names its order by Alpaca's id only
            if found is not None and (order.status == Order.NEW or not order.broker_order_id):
                broker_updates.order_broker_accept(order_id=order.pk, broker_order_id=str(found.id),
                                                   at=found.submitted_at or timezone.now())
                counts["accepted"] += 1
        for execution in self._activities(since):
            outcome = broker_updates.broker_execution_book(execution=execution, origin=CATCH_UP_ORIGIN)
            counts[outcome] += 1
        for order, found in states:
            if found is not None and found.status in CLOSED_STATUSES:
                event, status = CLOSED_STATUSES[found.status]
                at = found.canceled_at or found.expired_at or found.failed_at or found.updated_at or timezone.now()
                broker_updates.order_broker_close(order_id=order.pk, status=status, reason=close_reason(event),
                                                  at=min(at, timezone.now()))
                counts["closed"] += 1
        return counts

    def _open_order_states(self) -> list[tuple[Order, AlpacaOrder | None]]:
        """AlphaLoop's open orders at Alpaca with Alpaca's view of each (None: Alpaca does not have it)."""
        ours = broker_updates.broker_open_orders()
        if not ours:
            return []
        listed = self._client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=OPEN_ORDERS_LIMIT))
        by_id = {str(o.id): o for o in listed}
        by_client = {o.client_order_id: o for o in listed}
        states = []
        for order in ours:
            found = by_id.get(order.broker_order_id) if order.broker_order_id else by_client.get(order.client_order_id)
            if found is None:
                found = self._lookup(order)
            states.append((order, found))
        return states

    def _lookup(self, order: Order) -> AlpacaOrder | None:
        try:
            if order.broker_order_id:
                return self._client.get_order_by_id(order.broker_order_id)
            return self._client.get_order_by_client_id(order.client_order_id)
        except APIError as exc:
            if exc.status_code == 404:
                return None
            raise

    def _activities(self, since: dt.datetime | None) -> list[ExternalExecution]:
        """Alpaca's FILL activities after ``since`` minus the margin, every page, oldest first."""
        params: dict[str, Any] = {"direction": "asc", "page_size": PAGE_SIZE}
        if since is not None:
            params["after"] = (since - CATCH_UP_MARGIN).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        executions: list[ExternalExecution] = []
        while True:
            page = self._client.get("/account/activities/FILL", params)
            if not isinstance(page, list):
                raise ValueError(f"Alpaca's activities answer is not a list: {str(page)[:200]}")
            parsed = alpaca_activities.parse(json.dumps(page))
            for note in parsed.errors + parsed.skipped:
                logger.warning("Alpaca activity not booked by the catch-up: %s", note.message)
            executions += parsed.executions
            if len(page) < PAGE_SIZE:
                break
            params["page_token"] = page[-1]["id"]
        return sorted(executions, key=ExternalExecution.sort_key)


def broker_stream_build() -> AlpacaTradeStream | None:
    """The trade-stream worker of the configured real broker, or None (PAPER mode, or a broker without one)."""
    if settings.ORDER_MODE != "REAL":
        return None
    from orders.brokers import real_broker_class
    from orders.brokers.alpaca import AlpacaBroker

    if not issubclass(real_broker_class(), AlpacaBroker):
        return None
    return AlpacaTradeStream()
