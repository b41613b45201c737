"""Alpaca as AlphaLoop's real broker (``BROKER=alpaca``), through alpaca-py's TradingClient.

One Alpaca account (the ``ALPACA_*`` keys; paper or live by ``ALPACA_PAPER``) serves every
non-paper AlphaLoop account when ``ORDER_MODE=REAL``. Every order reaching :meth:`submit` has
passed the OrderSafetyGuard and is committed with its ``client_order_id``, which is sent as
Alpaca's ``client_order_id`` (Alpaca refuses a second order with the same one).

What an answer means, and what the adapter does about it:

* 2xx: placed; Alpaca's order id is kept.
* 4xx (403 insufficient buying power, 422 invalid, 401 wrong keys): refused, nothing was placed; the
  broker's message and code go into the rejection (``BrokerAck.reason`` / ``.code``).
* 429: the request was not processed; it is retried up to ``ALPACA_MAX_RETRIES`` times, waiting
  what ``Retry-After`` (or ``X-RateLimit-Reset``) says, capped by ``ALPACA_MAX_RETRY_AFTER_SECONDS``,
  else 1, 2, 4 s; then the outcome is reported unknown (the order stays NEW).
* timeout, connection reset, 5xx: the order may or may not be placed, so it is never resent blindly:
  it is looked up by its client_order_id; found -> that order's answer; not found -> it never
  arrived, and it is sent once more. A lookup that fails too leaves the order NEW
  (:class:`~orders.brokers.BrokerUnavailable`).
* 422 "client_order_id must be unique": an earlier attempt landed; that order is adopted if it is
  the same order, refused if another order holds the id.

Fills are not taken from the submit answer: Alpaca's order entity has no execution id, and AlphaLoop
books fills idempotently on the execution id that the ``trade_updates`` stream carries; an order the
answer already shows filled is ACCEPTED here and filled by the stream's ``fill`` event.

Quantities and prices travel as exact decimal strings: alpaca-py's request models hold floats, so
the SDK's fields are used for everything else and the three numbers are written from the Decimals.
"""

from __future__ import annotations

import email.utils
import logging
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Callable

import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.enums import OrderSide, OrderStatus, OrderType, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
)
from django.conf import settings

from alphaloop import alpaca_clients
from orders.brokers import (
    Broker,
    BrokerAccount,
    BrokerAck,
    BrokerOrder,
    BrokerPosition,
    BrokerUnavailable,
    CancelRefused,
)
from orders.importers import alpaca as alpaca_activities
from orders.models import Order

if TYPE_CHECKING:
    from datetime import datetime

    from orders.importers.base import ExternalExecution
    from orders.models import Account

logger = logging.getLogger(__name__)

REQUEST_TYPES = {Order.MARKET: MarketOrderRequest, Order.LIMIT: LimitOrderRequest, Order.STOP: StopOrderRequest,
                 Order.STOP_LIMIT: StopLimitOrderRequest}
ORDER_TYPES = {Order.MARKET: OrderType.MARKET, Order.LIMIT: OrderType.LIMIT, Order.STOP: OrderType.STOP,
               Order.STOP_LIMIT: OrderType.STOP_LIMIT}
SIDES = {Order.BUY: OrderSide.BUY, Order.SELL: OrderSide.SELL}
TIMES_IN_FORCE = {Order.DAY: TimeInForce.DAY, Order.GTC: TimeInForce.GTC}
FINAL_STATUSES = {OrderStatus.FILLED: Order.FILLED, OrderStatus.CANCELED: Order.CANCELLED,
                  OrderStatus.REPLACED: Order.CANCELLED, OrderStatus.EXPIRED: Order.EXPIRED,
                  OrderStatus.REJECTED: Order.REJECTED}
CODE_CONFLICT = "client_order_id_conflict"
ACTIVITIES_PAGE = 100  # Alpaca's largest page of account activities
OPEN_ORDERS_LIMIT = 500  # Alpaca's largest page of orders


class _Refused(Exception):
    """A 4xx answer: the request was understood and refused, nothing changed at Alpaca."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    @property
    def reason(self) -> str:
        return f"Alpaca: {self.message} (HTTP {self.status}, code {self.code})"


class _NotFound(_Refused):
    pass


class _Unknown(Exception):
    """No usable answer (timeout, reset connection, 5xx): the request may or may not have been applied."""


class _RateLimited(Exception):
    """429 after every allowed retry: the request was not processed."""


def _decimal_text(value: Decimal) -> str:
    """An exact decimal string without exponent or trailing zeros (``100``, ``99.15``, ``0.5``)."""
    normalized = value.normalize()
    return f"{normalized:f}"


def _decimal(value: Any) -> Decimal | None:
    return None if value is None or value == "" else Decimal(str(value))


def _error_of(exc: APIError) -> tuple[str, str]:
    """Alpaca's ``{"code", "message"}`` body, or what there is of it."""
    response = exc.response
    try:
        body = response.json() if response is not None else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    status = getattr(response, "status_code", "")
    message = str(body.get("message") or (response.text.strip()[:200] if response is not None else "") or "no message")
    return str(body.get("code") or f"http_{status}"), message


class AlpacaBroker(Broker):
    name = "alpaca"
    real = True

    @classmethod
    def check_settings(cls) -> None:
        alpaca_clients.alpaca_credentials()

    def __init__(self) -> None:
        self._client = alpaca_clients.trading_client()

    # --- the Broker interface ------------------------------------------------------------------------

    def submit(self, order: Order) -> BrokerAck:
        payload = self._payload(order)
        for attempt in (1, 2):
            try:
                placed = self._call(self._client.post, "/orders", payload)
            except _Refused as refusal:
                if refusal.status == 422 and "client_order_id" in refusal.message:
                    return self._adopt(order, refusal)
                logger.info("Alpaca refused order %s: %s", order.client_order_id, refusal.reason)
                return BrokerAck(accepted=False, reason=refusal.reason, code=refusal.code)
            except _RateLimited as exc:
                raise BrokerUnavailable(f"Alpaca rate limit: {exc}") from exc
            except _Unknown as exc:
                logger.warning("Order %s: no answer from Alpaca (%s); looking it up by client_order_id",
                               order.client_order_id, exc)
                found = self._find(order)
                if found is not None:
                    return self._ack(order, found)
                if attempt == 2:
                    raise BrokerUnavailable(f"Alpaca did not answer ({exc}) and has no order {order.client_order_id}") from exc
                logger.info("Order %s never reached Alpaca; sending it once more", order.client_order_id)
                continue
            return self._ack(order, AlpacaOrder(**placed))
        raise AssertionError("unreachable")

    def cancel(self, order: Order) -> None:
        alpaca_id = order.broker_order_id
        if not alpaca_id:
            found = self._find(order)
            if found is None:
                raise CancelRefused(f"Alpaca has no order {order.client_order_id}")
            alpaca_id = str(found.id)
        requested = True
        try:
            self._call(self._client.cancel_order_by_id, alpaca_id)
        except _NotFound as exc:
            raise CancelRefused(f"Alpaca has no order {alpaca_id}") from exc
        except _Refused as refusal:  # 422: no longer cancellable; its status below says why
            logger.info("Alpaca refused the cancel of %s: %s", alpaca_id, refusal.reason)
        except (_Unknown, _RateLimited) as exc:
            logger.warning("Cancel of %s: no answer from Alpaca (%s)", alpaca_id, exc)
            requested = False
        self._cancel_confirm(alpaca_id, requested=requested)

    def status(self, order: Order) -> str:
        found = self._find(order)
        return Order.NEW if found is None else self.status_of(found)

    def positions(self, account: Account) -> list[BrokerPosition]:
        rows = self._read(self._client.get_all_positions)
        result = []
        for row in rows:
            quantity = Decimal(row.qty)
            if row.side == "short" and quantity > 0:
                quantity = -quantity
            result.append(BrokerPosition(symbol=row.symbol, quantity=quantity, avg_cost=Decimal(row.avg_entry_price)))
        return result

    def account(self, account: Account) -> BrokerAccount:
        row = self._read(self._client.get_account)
        return BrokerAccount(cash=Decimal(row.cash), equity=Decimal(row.equity), currency=row.currency or "USD",
                             buying_power=_decimal(row.buying_power))

    def open_orders(self, account: Account) -> list[BrokerOrder]:
        rows = self._read(self._client.get_orders, GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=OPEN_ORDERS_LIMIT))
        return [BrokerOrder(broker_order_id=str(row.id), client_order_id=row.client_order_id or "", symbol=row.symbol,
                            side=Order.BUY if getattr(row.side, "value", row.side) == "buy" else Order.SELL,
                            quantity=_decimal(row.qty) or Decimal("0"),
                            filled_quantity=_decimal(row.filled_qty) or Decimal("0"), status=self.status_of(row))
                for row in rows]

    def executions(self, account: Account, *, after: datetime) -> list[ExternalExecution]:
        """The FILL activities after ``after``, every page, oldest first (options and crypto left out)."""
        entries: list = []
        params: dict = {"direction": "asc", "page_size": ACTIVITIES_PAGE, "after": after.isoformat()}
        while True:
            page = self._read(self._client.get, "/account/activities/FILL", params)
            entries += page
            if len(page) < ACTIVITIES_PAGE:
                break
            params = {**params, "page_token": page[-1]["id"]}
        parsed = alpaca_activities.activities_read(entries)
        if parsed.errors:
            notes = "; ".join(f"activity {note.line}: {note.message}" for note in parsed.errors[:3])
            raise BrokerUnavailable(f"Alpaca answered FILL activities AlphaLoop cannot read: {notes}")
        return parsed.executions

    @staticmethod
    def status_of(alpaca_order: AlpacaOrder) -> str:
        """AlphaLoop's status of an Alpaca order (pending and held states are still open)."""
        if alpaca_order.status in FINAL_STATUSES:
            return FINAL_STATUSES[alpaca_order.status]
        filled = _decimal(alpaca_order.filled_qty) or Decimal("0")
        return Order.PARTIALLY_FILLED if filled > 0 else Order.ACCEPTED

    # --- helpers -----------------------------------------------------------------------------------------

    def _payload(self, order: Order) -> dict:
        """The JSON of POST /v2/orders: the SDK's request model, with the numbers as exact strings."""
        prices = {"limit_price": order.limit_price, "stop_price": order.stop_price}
        request = REQUEST_TYPES[order.order_type](
            symbol=order.symbol, qty=float(order.quantity), side=SIDES[order.side],
            time_in_force=TIMES_IN_FORCE[order.time_in_force], client_order_id=order.client_order_id,
            **{name: float(value) for name, value in prices.items() if value is not None},
        )
        fields = request.to_request_fields()
        fields["qty"] = _decimal_text(order.quantity)
        fields.update({name: _decimal_text(value) for name, value in prices.items() if value is not None})
        return fields

    def _call(self, method: Callable, *args: Any) -> Any:
        """One SDK call with Alpaca's answers sorted into refused / unknown / rate limited; 429 is retried."""
        retries = 0
        while True:
            try:
                return method(*args)
            except APIError as exc:
                status = exc.status_code
                if status == 429:
                    wait = self._retry_wait(exc.response, retries)
                    if retries >= settings.ALPACA_MAX_RETRIES or wait is None:
                        raise _RateLimited(f"HTTP 429 after {retries} retries") from exc
                    retries += 1
                    logger.info("Alpaca rate limit (429): retry %d in %.2f s", retries, wait)
                    time.sleep(wait)
                    continue
                if status is None or status == 408 or status >= 500:
                    raise _Unknown(f"HTTP {status}") from exc
                code, message = _error_of(exc)
                raise (_NotFound if status == 404 else _Refused)(status, code, message) from exc
            except requests.RequestException as exc:
                raise _Unknown(type(exc).__name__) from exc

    @staticmethod
    def _retry_wait(response: requests.Response | None, retries: int) -> float | None:
        """Seconds to wait before retrying a 429, or None when Alpaca asks for longer than we wait."""
        headers = response.headers if response is not None else {}
        wait = float(2 ** retries)
        if headers.get("Retry-After"):
            value = headers["Retry-After"].strip()
            if value.isdigit():
                wait = float(value)
            else:
                try:
                    wait = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
                except (TypeError, ValueError):
                    pass
        elif headers.get("X-RateLimit-Reset", "").isdigit():
            wait = float(headers["X-RateLimit-Reset"]) - time.time()
        wait = max(0.0, wait)
        return None if wait > settings.ALPACA_MAX_RETRY_AFTER_SECONDS else wait

    def _read(self, method: Callable, *args: Any) -> Any:
        """A read whose failure is simply 'the broker is unavailable'."""
        try:
            return self._call(method, *args)
        except (_Refused, _Unknown, _RateLimited) as exc:
            raise BrokerUnavailable(f"Alpaca: {getattr(exc, 'reason', exc)}") from exc

    def _find(self, order: Order) -> AlpacaOrder | None:
        """Alpaca's order with this client_order_id; None when Alpaca never received it."""
        try:
            return self._call(self._client.get_order_by_client_id, order.client_order_id)
        except _NotFound:
            return None
        except (_Refused, _Unknown, _RateLimited) as exc:
            raise BrokerUnavailable(
                f"Alpaca did not confirm order {order.client_order_id} and it could not be looked up: "
                f"{getattr(exc, 'reason', exc)}"
            ) from exc

    def _adopt(self, order: Order, refusal: _Refused) -> BrokerAck:
        """Alpaca already holds an order with this client_order_id: ours from an earlier attempt, or not."""
        found = self._find(order)
        if found is None:
            return BrokerAck(accepted=False, reason=refusal.reason, code=refusal.code)
        return self._ack(order, found)

    def _ack(self, order: Order, placed: AlpacaOrder) -> BrokerAck:
        differences = self._differences(order, placed)
        if differences:
            reason = (f"Alpaca already holds another order under client_order_id {order.client_order_id} "
                      f"({'; '.join(differences)})")
            logger.warning("%s", reason)
            return BrokerAck(accepted=False, reason=reason, code=CODE_CONFLICT)
        if placed.status == OrderStatus.REJECTED:
            return BrokerAck(accepted=False, broker_order_id=str(placed.id), reason="Alpaca rejected the order",
                             code="rejected")
        return BrokerAck(accepted=True, broker_order_id=str(placed.id))

    @staticmethod
    def _differences(order: Order, placed: AlpacaOrder) -> list[str]:
        wanted = {"symbol": order.symbol, "side": SIDES[order.side].value, "qty": order.quantity,
                  "type": ORDER_TYPES[order.order_type].value, "time_in_force": TIMES_IN_FORCE[order.time_in_force].value,
                  "limit_price": order.limit_price, "stop_price": order.stop_price}
        actual = {"symbol": placed.symbol, "side": getattr(placed.side, "value", placed.side),
                  "qty": _decimal(placed.qty), "type": getattr(placed.type, "value", placed.type),
                  "time_in_force": getattr(placed.time_in_force, "value", placed.time_in_force),
                  "limit_price": _decimal(placed.limit_price), "stop_price": _decimal(placed.stop_price)}
        return [f"{name} {actual[name]} instead of {wanted[name]}" for name in wanted if actual[name] != wanted[name]]

    def _cancel_confirm(self, alpaca_id: str, *, requested: bool) -> None:
        """Wait (up to ALPACA_CANCEL_CONFIRM_SECONDS) until Alpaca reports the order canceled."""
        deadline = time.monotonic() + float(settings.ALPACA_CANCEL_CONFIRM_SECONDS)
        pause = 0.05
        while True:
            current = self._read(self._client.get_order_by_id, alpaca_id)
            if current.status == OrderStatus.CANCELED:
                return
            if current.status in FINAL_STATUSES:
                raise CancelRefused(f"the order is already {current.status.value} at Alpaca; nothing was cancelled")
            remaining = deadline - time.monotonic()
            if not requested or remaining <= 0:
                raise BrokerUnavailable(
                    f"Alpaca has not confirmed the cancel (the order is {current.status.value}); it stays open "
                    "until Alpaca reports it cancelled"
                )
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, 0.5)
