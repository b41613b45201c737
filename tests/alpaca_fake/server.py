"""A local Alpaca: REST (trading + market data), the trading stream and the market-data stream.

It runs in a thread of the test process on a free loopback port (aiohttp serves HTTP and
websockets on one port), and speaks the wire protocol alpaca-py 0.44 speaks:

REST (``base_url + "/v2" + path``; headers ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY``; errors are
``{"code": int, "message": str}`` with 401/403/404/422/429/5xx):
  GET  /v2/account                          GET  /v2/positions, /v2/positions/{symbol}
  POST /v2/orders                           GET  /v2/orders?status&limit&after&until&direction&symbols&side
  GET  /v2/orders/{id}                      GET  /v2/orders:by_client_order_id?client_order_id=
  DELETE /v2/orders/{id} (204)              DELETE /v2/orders (207, one entry per order)
  GET  /v2/account/activities/FILL?after&until&date&direction&page_size&page_token
  GET  /v2/stocks/bars?symbols&timeframe&start&end&limit&adjustment&feed&page_token
Trading stream (``/stream``): JSON in **binary** frames (as Alpaca's paper endpoint sends them);
  client ``{"action": "authenticate", "data": {"key_id", "secret_key"}}`` -> ``{"stream":
  "authorization", "data": {"action": "authenticate", "status": "authorized"}}``; client ``{"action":
  "listen", "data": {"streams": ["trade_updates"]}}`` -> ``{"stream": "listening", "data": {"streams":
  ["trade_updates"]}}``; then ``{"stream": "trade_updates", "data": {"event", "execution_id",
  "order", "timestamp", "position_qty", "price", "qty"}}``.
Market-data stream (``/v2/{feed}``): msgpack when the client sends ``Content-Type:
  application/msgpack`` (the SDK does), JSON text otherwise; every frame is an array of messages:
  ``[{"T": "success", "msg": "connected"}]`` on connect, ``{"action": "auth", "key", "secret"}`` ->
  ``[{"T": "success", "msg": "authenticated"}]`` (or ``[{"T": "error", "code": 402, "msg": "auth
  failed"}]``, ``406 connection limit exceeded`` while another connection is alive), ``{"action":
  "subscribe", "trades": [...], "quotes": [...], "bars": [...]}`` -> ``[{"T": "subscription", ...}]``,
  then ``T`` = ``t``/``q``/``b`` messages whose ``t`` is a msgpack Timestamp.

Tests drive it with Python methods (``fill``, ``reject``, ``fail_next``, ``drop_streams``, ...).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from decimal import Decimal

import msgpack
from aiohttp import WSMsgType, web

from tests.alpaca_fake.broker import (
    CODE_INTERNAL,
    CODE_NOT_FOUND,
    CODE_RATE_LIMIT,
    CODE_UNAUTHORIZED,
    AlpacaError,
    Execution,
    FakeBrokerage,
    FakeOrder,
    now,
    parse_time,
    rfc3339,
    text,
)
from tests.alpaca_fake.marketdata import FakeBar, FakeBars, bar_message, quote_message, trade_message

DEFAULT_KEY = "PKFAKE0ALPHALOOP0KEY"
DEFAULT_SECRET = "fake-alpaca-secret-0123456789abcdefghijklmn"
BODY = web.RequestKey("body", object)
FAULT = web.RequestKey("fault", object)
ERROR_MESSAGES = {401: (CODE_UNAUTHORIZED, "request is not authorized"), 404: (CODE_NOT_FOUND, "not found"),
                  429: (CODE_RATE_LIMIT, "rate limit exceeded"), 500: (CODE_INTERNAL, "internal server error")}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict
    body: object


@dataclass
class Fault:
    """What the next matching request gets instead of its answer.

    ``kind``: ``status`` (answer ``status`` with ``body``/``headers``), ``timeout`` (hold the answer until
    the client has given up), ``reset`` (close the connection without answering). With ``store`` a
    POST /v2/orders keeps the order before failing: the client cannot know it was placed.
    """

    method: str
    path: str
    kind: str = "status"
    status: int = 500
    body: object = None
    headers: dict = field(default_factory=dict)
    store: bool = False
    times: int = 1


@dataclass(eq=False)
class StreamConnection:
    kind: str  # "trading" or "data"
    ws: web.WebSocketResponse
    transport: asyncio.Transport
    use_msgpack: bool = False
    authenticated: bool = False
    listening: bool = False
    subscriptions: dict[str, set[str]] = field(default_factory=lambda: {"trades": set(), "quotes": set(), "bars": set()})
    half_open: bool = False

    @property
    def live(self) -> bool:
        return not self.ws.closed and not self.transport.is_closing()


class FakeAlpaca:
    """A local Alpaca server with tracked state. ``start()`` it (or use it as a context manager)."""

    def __init__(self, *, api_key: str = DEFAULT_KEY, secret_key: str = DEFAULT_SECRET, cash: str = "100000"):
        self.api_key, self.secret_key = api_key, secret_key
        self.brokerage = FakeBrokerage(cash=Decimal(cash))
        self.bars = FakeBars()
        self.requests: list[RecordedRequest] = []
        self.trade_updates: list[dict] = []  # every trade update emitted, with how many sockets got it
        self.hold_cancels = False  # True: DELETE leaves orders pending_cancel until confirm_cancel()
        self.data_connection_limit = 1  # Alpaca's market-data stream allows one connection per key
        self.refuse_trading_logins = False  # True: the trading stream answers every login "unauthorized" and closes
        self.refuse_trading_handshakes = 0  # the next N trading-stream handshakes get HTTP 429 (a reconnect storm)
        self.hold_seconds = 30.0  # how long a "timeout" fault holds its answer at most
        self._faults: list[Fault] = []
        self._fill_next_submit: Decimal | None = None
        self._connections: list[StreamConnection] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._trade_ids = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._release: asyncio.Event | None = None
        self.port = 0

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The REST base URL (trading and market data): what ALPACA_TRADING_URL / ALPACA_DATA_URL take."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def trading_stream_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/stream"

    def data_stream_url(self, feed: str = "iex") -> str:
        return f"ws://127.0.0.1:{self.port}/v2/{feed}"

    def settings(self) -> dict:
        """The ALPACA_* settings that point AlphaLoop at this server."""
        return {"ALPACA_API_KEY": self.api_key, "ALPACA_SECRET_KEY": self.secret_key, "ALPACA_PAPER": True,
                "ALPACA_TRADING_URL": self.url, "ALPACA_DATA_URL": self.url,
                "ALPACA_TRADING_STREAM_URL": self.trading_stream_url, "ALPACA_DATA_STREAM_URL": self.data_stream_url()}

    def start(self) -> FakeAlpaca:
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="alpaca-fake", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake Alpaca server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FakeAlpaca:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    async def _serve(self) -> None:
        self._release = asyncio.Event()
        app = web.Application(middlewares=[self._middleware])
        app.add_routes([
            web.get("/v2/account", self._account),
            web.get("/v2/positions", self._positions),
            web.get("/v2/positions/{symbol}", self._position),
            web.post("/v2/orders", self._submit),
            web.get("/v2/orders", self._orders),
            web.delete("/v2/orders", self._cancel_all),
            web.get("/v2/orders:by_client_order_id", self._order_by_client_id),
            web.get("/v2/orders/{order_id}", self._order),
            web.delete("/v2/orders/{order_id}", self._cancel),
            web.get("/v2/account/activities/FILL", self._activities),
            web.get("/v2/account/activities", self._activities),
            web.get("/v2/stocks/bars", self._stock_bars),
            web.get("/stream", self._trading_stream),
            web.get("/v2/{feed}", self._data_stream),
        ])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        self._release.set()
        for connection in list(self._connections):
            connection.transport.abort()
        await self._runner.cleanup()

    # --- test controls: orders and the account -----------------------------------------------------

    def order(self, ref: FakeOrder | str) -> FakeOrder:
        """An order by object, Alpaca id or client_order_id."""
        if isinstance(ref, FakeOrder):
            return ref
        with self._lock:
            for order in self.brokerage.orders:
                if ref in (order.id, order.client_order_id):
                    return order
        raise KeyError(f"no order {ref!r} at the fake")

    def submissions(self) -> list[dict]:
        """The bodies of every POST /v2/orders that reached the server, in order."""
        return [r.body for r in self.requests if r.method == "POST" and r.path == "/v2/orders"]

    def fill(self, ref: FakeOrder | str, *, price, qty=None) -> Execution:
        """Execute an order (all that is left, or ``qty``) at ``price``: emits ``fill``/``partial_fill``."""
        with self._lock:
            order = self.order(ref)
            execution = self.brokerage.fill(order, price=Decimal(str(price)), qty=None if qty is None else Decimal(str(qty)))
            frame = self._fill_frame(execution)
        self._run(self._emit(frame))
        return execution

    def reject(self, ref: FakeOrder | str) -> None:
        self._broker_transition(ref, "rejected")

    def expire(self, ref: FakeOrder | str) -> None:
        self._broker_transition(ref, "expired")

    def cancel(self, ref: FakeOrder | str, *, reason: str | None = None) -> None:
        """The broker cancels an order on its own (or the trader did in Alpaca's app); ``reason`` is the
        update's top-level ``reason`` Alpaca adds to its own cancels (``CORPORATE_ACTION``)."""
        self._broker_transition(ref, "canceled", reason=reason)

    def confirm_cancel(self, ref: FakeOrder | str) -> None:
        """Finish a held cancel request: ``pending_cancel`` -> ``canceled`` with its trade update."""
        self._broker_transition(ref, "canceled")

    def fill_next_submit(self, price) -> None:
        """The next order is filled before its POST answer: the answer already says ``filled``."""
        self._fill_next_submit = Decimal(str(price))

    def external_fill(self, symbol: str, side: str, qty, price) -> Execution:
        """An order placed and filled outside AlphaLoop (in Alpaca's own app): a new order id, a fill."""
        with self._lock:
            order = FakeOrder(symbol=symbol.upper(), qty=Decimal(str(qty)), side=side, type="market",
                              time_in_force="day", client_order_id=f"app-{len(self.brokerage.orders) + 1}")
            self.brokerage.orders.append(order)
            frames = [self._event_frame("new", self.brokerage.transition(order, "new"))]
            execution = self.brokerage.fill(order, price=Decimal(str(price)))
            frames.append(self._fill_frame(execution))
        for frame in frames:
            self._run(self._emit(frame))
        return execution

    def set_position(self, symbol: str, qty, avg_entry_price) -> None:
        """A position changed outside any order (a transfer in, a corporate action); no stream event."""
        with self._lock:
            self.brokerage.set_position(symbol, Decimal(str(qty)), Decimal(str(avg_entry_price)))

    def set_price(self, symbol: str, price) -> None:
        """The current price of a symbol (positions' market value, market orders' buying-power check)."""
        with self._lock:
            self.brokerage.marks[symbol.upper()] = Decimal(str(price))

    def add_bars(self, symbol: str, rows: list[tuple], *, adjusted: list[tuple] | None = None) -> None:
        """Daily bars as ``(date, open, high, low, close, volume)`` rows; ``adjusted`` for adjustment=all."""
        def bars(source):
            return [FakeBar(day, *(Decimal(str(v)) for v in (o, h, low, c)), int(volume)) for day, o, h, low, c, volume in source]

        with self._lock:
            self.bars.add(symbol.upper(), bars(rows), adjusted=None if adjusted is None else bars(adjusted))

    # --- test controls: faults and streams ---------------------------------------------------------

    def fail_next(self, method: str, path: str, *, status: int = 500, body=None, headers: dict | None = None,
                  store: bool = False, times: int = 1) -> None:
        """The next ``times`` requests to ``method path`` get ``status`` (Alpaca's error body by default)."""
        if body is None:
            code, message = ERROR_MESSAGES.get(status, (status * 100000, "error"))
            body = {"code": code, "message": message}
        with self._lock:
            self._faults.append(Fault(method, path, "status", status, body, headers or {}, store, times))

    def timeout_next_submit(self, *, store: bool = True) -> None:
        """The next POST /v2/orders never answers in time (by default after storing the order)."""
        with self._lock:
            self._faults.append(Fault("POST", "/v2/orders", "timeout", store=store))

    def reset_next(self, method: str, path: str, *, store: bool = False) -> None:
        """The next request to ``method path`` has its connection closed without an answer."""
        with self._lock:
            self._faults.append(Fault(method, path, "reset", store=store))

    def drop_streams(self, kind: str | None = None) -> int:
        """Cut every stream socket (of ``kind``) without a close frame, as a network failure does."""
        return self._run(self._drop(kind))

    async def _drop(self, kind: str | None) -> int:
        with self._lock:
            chosen = [c for c in self._connections if kind in (None, c.kind)]
        for connection in chosen:
            connection.transport.abort()
            self._unregister(connection)
        return len(chosen)

    def hold_streams_half_open(self, kind: str | None = None) -> int:
        """Stream sockets stay open but go silent: no pong, no data, nothing read (a dead peer)."""
        with self._lock:
            chosen = [c for c in self._connections if kind in (None, c.kind) and c.live]
            for connection in chosen:
                connection.half_open = True
        return len(chosen)

    def wait_for_streams(self, kind: str, count: int = 1, *, timeout: float = 10.0) -> None:
        """Block until ``count`` healthy ``kind`` sockets are ready (trading: listening; data: subscribed)."""
        def ready() -> bool:
            return self.ready_streams(kind) >= count

        with self._changed:
            if not self._changed.wait_for(ready, timeout):
                raise TimeoutError(f"{self.ready_streams(kind)} {kind} stream(s) ready, waited for {count}")

    def data_subscriptions(self, channel: str = "trades") -> set[str]:
        """The symbols the healthy data sockets are subscribed to on ``channel``."""
        with self._lock:
            return set().union(*(c.subscriptions[channel] for c in self._connections
                                 if c.kind == "data" and c.live and not c.half_open and c.authenticated))

    def wait_for_subscriptions(self, predicate, channel: str = "trades", *, timeout: float = 10.0) -> set[str]:
        """Block until ``predicate(subscribed symbols)`` holds; returns those symbols."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self.data_subscriptions(channel)), timeout):
                raise TimeoutError(f"data subscriptions {sorted(self.data_subscriptions(channel))} never matched")
            return self.data_subscriptions(channel)

    def ready_streams(self, kind: str) -> int:
        with self._lock:
            return sum(
                1 for c in self._connections
                if c.kind == kind and c.live and not c.half_open and c.authenticated
                and (c.listening if kind == "trading" else any(c.subscriptions.values()))
            )

    def push_trade(self, symbol: str, price, size: int = 100, *, moment: dt.datetime | None = None) -> int:
        """A trade on the market-data stream; returns how many sockets received it."""
        with self._lock:
            self._trade_ids += 1
            message = trade_message(symbol, price=Decimal(str(price)), size=size, trade_id=self._trade_ids,
                                    moment=moment or now())
        return self._run(self._publish("trades", symbol, message))

    def push_quote(self, symbol: str, bid, ask, *, bid_size: int = 1, ask_size: int = 1,
                   moment: dt.datetime | None = None) -> int:
        message = quote_message(symbol, bid=Decimal(str(bid)), ask=Decimal(str(ask)), bid_size=bid_size,
                                ask_size=ask_size, moment=moment or now())
        return self._run(self._publish("quotes", symbol, message))

    def push_bar(self, symbol: str, open, high, low, close, volume: int = 1000, *, moment: dt.datetime | None = None) -> int:
        message = bar_message(symbol, open=Decimal(str(open)), high=Decimal(str(high)), low=Decimal(str(low)),
                              close=Decimal(str(close)), volume=volume, moment=moment or now())
        return self._run(self._publish("bars", symbol, message))

    # --- internals: events --------------------------------------------------------------------------

    def _run(self, coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(10)

    def _broker_transition(self, ref: FakeOrder | str, status: str, *, reason: str | None = None) -> None:
        with self._lock:
            order = self.order(ref)
            if not order.is_open:
                raise ValueError(f"order {order.client_order_id} is already {order.status}")
            frame = self._event_frame(status, self.brokerage.transition(order, status))
            if reason is not None:
                frame["data"]["reason"] = reason
        self._run(self._emit(frame))

    @staticmethod
    def _event_frame(event: str, order: FakeOrder) -> dict:
        return {"stream": "trade_updates", "data": {"event": event, "order": order.as_json(), "timestamp": rfc3339(now())}}

    @staticmethod
    def _fill_frame(execution: Execution) -> dict:
        return {"stream": "trade_updates", "data": {
            "event": "fill" if execution.leaves_qty == 0 else "partial_fill",
            "execution_id": execution.execution_id, "order": execution.order.as_json(),
            "timestamp": rfc3339(execution.timestamp), "position_qty": text(execution.position_qty),
            "price": text(execution.price), "qty": text(execution.qty),
        }}

    async def _emit(self, frame: dict) -> int:
        """Send a trade update to every listening, healthy trading-stream socket (in the loop thread)."""
        delivered = 0
        payload = json.dumps(frame).encode()
        for connection in list(self._connections):
            if connection.kind == "trading" and connection.listening and connection.live and not connection.half_open:
                try:
                    await connection.ws.send_bytes(payload)
                    delivered += 1
                except ConnectionError:
                    pass
        with self._lock:
            self.trade_updates.append({**frame["data"], "delivered_to": delivered})
        return delivered

    async def _publish(self, channel: str, symbol: str, message: dict) -> int:
        delivered = 0
        for connection in list(self._connections):
            wanted = connection.subscriptions[channel]
            if connection.kind == "data" and connection.live and not connection.half_open and (symbol in wanted or "*" in wanted):
                try:
                    await self._send_data(connection, [message])
                    delivered += 1
                except ConnectionError:
                    pass
        return delivered

    # --- internals: REST ------------------------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        body = None
        if request.can_read_body:
            raw = await request.read()
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
        path = request.path
        with self._lock:
            self.requests.append(RecordedRequest(request.method, path, dict(request.query), body))
        if path == "/stream" or (path.startswith("/v2/") and path.count("/") == 2 and request.headers.get("Upgrade")):
            return await handler(request)
        if (request.headers.get("APCA-API-KEY-ID"), request.headers.get("APCA-API-SECRET-KEY")) != (self.api_key, self.secret_key):
            return self._error(AlpacaError(401, CODE_UNAUTHORIZED, "request is not authorized"))
        fault = self._take_fault(request.method, path)
        request[BODY], request[FAULT] = body, fault
        if fault is not None and not fault.store:
            return await self._apply(fault, request)
        try:
            return await handler(request)
        except AlpacaError as error:
            return self._error(error)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method == method and fault.path == path:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    async def _apply(self, fault: Fault, request: web.Request) -> web.StreamResponse:
        if fault.kind == "reset":
            request.transport.abort()
            return web.Response(status=500)
        if fault.kind == "timeout":
            try:
                await asyncio.wait_for(self._release.wait(), self.hold_seconds)
            except asyncio.TimeoutError:
                pass
            return web.Response(status=504)
        return web.json_response(fault.body, status=fault.status, headers=fault.headers, dumps=json.dumps)

    @staticmethod
    def _error(error: AlpacaError) -> web.Response:
        return web.json_response(error.body, status=error.status)

    async def _account(self, request):
        with self._lock:
            return web.json_response(self.brokerage.account_json())

    async def _positions(self, request):
        with self._lock:
            return web.json_response(self.brokerage.positions_json())

    async def _position(self, request):
        with self._lock:
            return web.json_response(self.brokerage.position_json(request.match_info["symbol"]))

    async def _submit(self, request):
        with self._lock:
            order = self.brokerage.submit(request[BODY])
            answer = order.as_json()
            frames = [self._event_frame("new", self.brokerage.transition(order, "new"))]
            if self._fill_next_submit is not None:
                execution = self.brokerage.fill(order, price=self._fill_next_submit)
                self._fill_next_submit = None
                answer = order.as_json()
                frames.append(self._fill_frame(execution))
        asyncio.get_running_loop().create_task(self._emit_all(frames))
        if request[FAULT] is not None:
            return await self._apply(request[FAULT], request)
        return web.json_response(answer)

    async def _emit_all(self, frames: list[dict]) -> None:
        for frame in frames:
            await self._emit(frame)

    async def _orders(self, request):
        query = request.query
        try:
            limit = int(query.get("limit", 50))
        except ValueError:
            raise AlpacaError(422, 40010001, "invalid limit") from None
        symbols = [s for s in query.get("symbols", "").split(",") if s] or None
        with self._lock:
            return web.json_response(self.brokerage.orders_query(
                status=query.get("status", "open"), limit=limit, after=parse_time(query.get("after"), "after"),
                until=parse_time(query.get("until"), "until"), direction=query.get("direction", "desc"), symbols=symbols,
                side=query.get("side"),
            ))

    async def _order(self, request):
        with self._lock:
            return web.json_response(self.brokerage.find(order_id=request.match_info["order_id"]).as_json())

    async def _order_by_client_id(self, request):
        with self._lock:
            return web.json_response(self.brokerage.find(client_order_id=request.query.get("client_order_id", "")).as_json())

    async def _cancel(self, request):
        with self._lock:
            order = self.brokerage.request_cancel(self.brokerage.find(order_id=request.match_info["order_id"]))
        if not self.hold_cancels:
            asyncio.get_running_loop().create_task(self._confirm_cancel(order))
        return web.Response(status=204)

    async def _confirm_cancel(self, order: FakeOrder) -> None:
        with self._lock:
            if order.status != "pending_cancel":
                return
            frame = self._event_frame("canceled", self.brokerage.transition(order, "canceled"))
        await self._emit(frame)

    async def _cancel_all(self, request):
        answers = []
        with self._lock:
            for order in [o for o in self.brokerage.orders if o.is_open]:
                self.brokerage.request_cancel(order)
                answers.append({"id": order.id, "status": 200, "body": order.as_json()})
        for answer in answers:
            asyncio.get_running_loop().create_task(self._confirm_cancel(self.order(answer["id"])))
        return web.json_response(answers, status=207)

    async def _activities(self, request):
        query = request.query
        if request.path.endswith("/activities") and "FILL" not in query.get("activity_types", "FILL").split(","):
            return web.json_response([])
        try:
            page_size = int(query.get("page_size", 100))
            day = dt.date.fromisoformat(query["date"]) if query.get("date") else None
        except ValueError:
            raise AlpacaError(422, 40010001, "invalid date or page_size") from None
        with self._lock:
            return web.json_response(self.brokerage.activities(
                after=parse_time(query.get("after"), "after"), until=parse_time(query.get("until"), "until"), date=day,
                direction=query.get("direction", "desc"), page_size=page_size, page_token=query.get("page_token"),
            ))

    async def _stock_bars(self, request):
        with self._lock:
            return web.json_response(self.bars.query(dict(request.query)))

    # --- internals: the streams -------------------------------------------------------------------------

    def _register(self, connection: StreamConnection) -> None:
        with self._changed:
            self._connections.append(connection)
            self._changed.notify_all()

    def _changed_state(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _unregister(self, connection: StreamConnection) -> None:
        with self._changed:
            if connection in self._connections:
                self._connections.remove(connection)
            self._changed.notify_all()

    async def _messages(self, connection: StreamConnection):
        """The client's messages, decoded; answers pings unless the socket is held half-open."""
        async for message in connection.ws:
            if message.type == WSMsgType.PING:
                if not connection.half_open:
                    await connection.ws.pong(message.data)
                continue
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY) or connection.half_open:
                continue
            try:
                if connection.use_msgpack and message.type == WSMsgType.BINARY:
                    yield msgpack.unpackb(message.data)
                else:
                    yield json.loads(message.data)
            except ValueError:
                yield None

    async def _trading_stream(self, request):
        with self._lock:
            refuse = self.refuse_trading_handshakes > 0
            self.refuse_trading_handshakes -= refuse
        if refuse:
            return web.json_response({"code": CODE_RATE_LIMIT, "message": "rate limit exceeded"}, status=429)
        transport = request.transport
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        connection = StreamConnection("trading", ws, transport)
        self._register(connection)

        async def reply(stream: str, data: dict) -> None:
            await ws.send_bytes(json.dumps({"stream": stream, "data": data}).encode())

        try:
            async for message in self._messages(connection):
                action = message.get("action") if isinstance(message, dict) else None
                data = (message.get("data") or {}) if isinstance(message, dict) else {}
                if action in ("authenticate", "auth"):
                    granted = (data.get("key_id"), data.get("secret_key")) == (self.api_key, self.secret_key) \
                        and not self.refuse_trading_logins
                    await reply("authorization", {"action": "authenticate", "status": "authorized" if granted else "unauthorized"})
                    if not granted:
                        await ws.close()
                        break
                    connection.authenticated = True
                elif action == "listen":
                    if not connection.authenticated:
                        await reply("authorization", {"action": "listen", "status": "unauthorized"})
                        continue
                    streams = [s for s in data.get("streams") or [] if s == "trade_updates"]
                    connection.listening = bool(streams)
                    await reply("listening", {"streams": streams})
                else:
                    await reply("error", {"error": "invalid action"})
                self._changed_state()
        finally:
            self._unregister(connection)
        return ws

    async def _send_data(self, connection: StreamConnection, messages: list[dict]) -> None:
        if connection.use_msgpack:
            encoded = [{k: msgpack.Timestamp.from_datetime(v) if isinstance(v, dt.datetime) else v
                        for k, v in m.items()} for m in messages]
            await connection.ws.send_bytes(msgpack.packb(encoded))
        else:
            encoded = [{k: rfc3339(v) if isinstance(v, dt.datetime) else v for k, v in m.items()} for m in messages]
            await connection.ws.send_str(json.dumps(encoded))

    async def _data_stream(self, request):
        if not request.headers.get("Upgrade"):
            return self._error(AlpacaError(404, CODE_NOT_FOUND, "not found"))
        transport = request.transport
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        connection = StreamConnection("data", ws, transport,
                                      use_msgpack=request.headers.get("Content-Type") == "application/msgpack")
        self._register(connection)
        try:
            await self._send_data(connection, [{"T": "success", "msg": "connected"}])
            async for message in self._messages(connection):
                action = message.get("action") if isinstance(message, dict) else None
                if action == "auth":
                    await self._data_auth(connection, message)
                    if connection.ws.closed:
                        break
                elif not connection.authenticated:
                    await self._send_data(connection, [{"T": "error", "code": 401, "msg": "not authenticated"}])
                elif action in ("subscribe", "unsubscribe"):
                    for channel, symbols in connection.subscriptions.items():
                        change = set(message.get(channel) or [])
                        symbols.update(change) if action == "subscribe" else symbols.difference_update(change)
                    trades = sorted(connection.subscriptions["trades"])
                    await self._send_data(connection, [{
                        "T": "subscription", "trades": trades, "quotes": sorted(connection.subscriptions["quotes"]),
                        "bars": sorted(connection.subscriptions["bars"]), "updatedBars": [], "dailyBars": [],
                        "statuses": [], "lulds": [], "corrections": trades, "cancelErrors": trades,
                    }])
                else:
                    await self._send_data(connection, [{"T": "error", "code": 400, "msg": "invalid syntax"}])
                self._changed_state()
        finally:
            self._unregister(connection)
        return ws

    async def _data_auth(self, connection: StreamConnection, message: dict) -> None:
        if (message.get("key"), message.get("secret")) != (self.api_key, self.secret_key):
            await self._send_data(connection, [{"T": "error", "code": 402, "msg": "auth failed"}])
            await connection.ws.close()
            return
        with self._lock:
            others = [c for c in self._connections if c is not connection and c.kind == "data" and c.authenticated and c.live]
        if len(others) >= self.data_connection_limit:
            await self._send_data(connection, [{"T": "error", "code": 406, "msg": "connection limit exceeded"}])
            await connection.ws.close()
            return
        connection.authenticated = True
        await self._send_data(connection, [{"T": "success", "msg": "authenticated"}])

