"""The fake answers exactly what alpaca-py expects: every answer goes through the SDK's own clients and models."""

from __future__ import annotations

import datetime as dt
import json
import queue
import threading
from contextlib import contextmanager
from decimal import Decimal as D

import msgpack
import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.live.stock import StockDataStream
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderStatus, QueryOrderStatus
from alpaca.trading.requests import (
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
    StopLimitOrderRequest,
    StopOrderRequest,
)
from alpaca.trading.stream import TradingStream
from websockets.sync.client import connect

from tests.alpaca_fake import FakeAlpaca

UTC = dt.timezone.utc


@pytest.fixture
def client(alpaca_fake) -> TradingClient:
    return TradingClient(alpaca_fake.api_key, alpaca_fake.secret_key, url_override=alpaca_fake.url)


def _buy(client, cid: str, qty=10, limit=99.5, **kwargs):
    return client.submit_order(LimitOrderRequest(symbol="AAPL", qty=qty, side="buy", time_in_force="day",
                                                 limit_price=limit, client_order_id=cid, **kwargs))


# --- REST: orders -----------------------------------------------------------------------------------

def test_every_order_type_round_trips_through_the_sdk(client):
    placed = [
        client.submit_order(MarketOrderRequest(symbol="AAPL", qty=1.5, side="buy", time_in_force="day", client_order_id="m")),
        client.submit_order(LimitOrderRequest(symbol="AAPL", qty=2, side="buy", time_in_force="gtc", limit_price=99.15, client_order_id="l")),
        client.submit_order(StopOrderRequest(symbol="AAPL", qty=3, side="sell", time_in_force="day", stop_price=98.5, client_order_id="s")),
        client.submit_order(StopLimitOrderRequest(symbol="AAPL", qty=4, side="sell", time_in_force="gtc", stop_price=98.5,
                                                  limit_price=98.25, client_order_id="sl")),
    ]

    assert [(o.type.value, o.time_in_force.value, o.qty, o.limit_price, o.stop_price, o.status) for o in placed] == [
        ("market", "day", "1.5", None, None, OrderStatus.ACCEPTED),
        ("limit", "gtc", "2", "99.15", None, OrderStatus.ACCEPTED),
        ("stop", "day", "3", None, "98.5", OrderStatus.ACCEPTED),
        ("stop_limit", "gtc", "4", "98.25", "98.5", OrderStatus.ACCEPTED),
    ]
    assert client.get_order_by_id(placed[1].id).client_order_id == "l"
    assert client.get_order_by_client_id("sl").id == placed[3].id
    assert client.get_order_by_client_id("sl").status == OrderStatus.NEW  # routed right after the answer


def test_orders_are_listed_by_status_and_by_submission_time(client, alpaca_fake, time_machine):
    time_machine.move_to(dt.datetime(2026, 11, 24, 15, 0, tzinfo=UTC), tick=False)
    _buy(client, "early")
    time_machine.move_to(dt.datetime(2026, 11, 24, 15, 30, tzinfo=UTC), tick=False)
    _buy(client, "late")
    alpaca_fake.fill("early", price="99.5")

    def listed(**filters):
        return [o.client_order_id for o in client.get_orders(GetOrdersRequest(**filters))]

    assert listed() == ["late"]
    assert listed(status=QueryOrderStatus.CLOSED) == ["early"]
    assert listed(status=QueryOrderStatus.ALL, direction="asc") == ["early", "late"]
    assert listed(status=QueryOrderStatus.ALL, after=dt.datetime(2026, 11, 24, 15, 10, tzinfo=UTC)) == ["late"]
    assert listed(status=QueryOrderStatus.ALL, until=dt.datetime(2026, 11, 24, 15, 10, tzinfo=UTC)) == ["early"]


def test_refusals_carry_alpacas_status_and_code(client, alpaca_fake):
    _buy(client, "once")
    alpaca_fake.brokerage.cash = D("100")

    def refusal(call):
        with pytest.raises(APIError) as caught:
            call()
        return caught.value.status_code, caught.value.code, caught.value.message

    assert refusal(lambda: _buy(client, "once")) == (422, 40010001, "client_order_id must be unique")
    assert refusal(lambda: _buy(client, "poor", qty=5, limit=99)) == (403, 40310000, "insufficient buying power")
    assert refusal(lambda: _buy(client, "penny", qty=1, limit=99.123)) == (
        422, 42210000, "invalid limit_price 99.123. sub-penny increment does not fulfill minimum pricing criteria")
    assert refusal(lambda: client.get_order_by_client_id("nobody")) == (404, 40410000, "order not found")
    stranger = TradingClient(alpaca_fake.api_key, "not-the-secret", url_override=alpaca_fake.url)
    assert refusal(stranger.get_account) == (401, 40110000, "request is not authorized")
    alpaca_fake.fill("once", price="99.5")
    order_id = client.get_order_by_client_id("once").id
    assert refusal(lambda: client.cancel_order_by_id(order_id)) == (422, 42210000, 'order is already in "filled" state')


def test_cancel_is_a_204_then_the_order_is_canceled(client, alpaca_fake):
    first, second = _buy(client, "c1"), _buy(client, "c2", limit=98)

    assert client.cancel_order_by_id(first.id) is None
    assert client.get_order_by_id(first.id).status == OrderStatus.CANCELED
    answers = client.cancel_orders()
    assert [(a.id, a.status) for a in answers] == [(second.id, 200)]
    assert [u["event"] for u in alpaca_fake.trade_updates if u["order"]["client_order_id"] == "c1"] == ["new", "canceled"]


def test_a_held_cancel_stays_pending_until_confirmed(client, alpaca_fake):
    alpaca_fake.hold_cancels = True
    order = _buy(client, "held")

    client.cancel_order_by_id(order.id)
    assert client.get_order_by_id(order.id).status == OrderStatus.PENDING_CANCEL
    alpaca_fake.confirm_cancel("held")
    assert client.get_order_by_id(order.id).status == OrderStatus.CANCELED


# --- REST: account, positions, activities ------------------------------------------------------------------

def test_account_and_positions_follow_the_fills(client, alpaca_fake):
    _buy(client, "b", qty=10, limit=99.5)
    alpaca_fake.fill("b", price="99.40", qty=6)
    alpaca_fake.external_fill("MSFT", "sell", 2, "300.25")  # a short sale placed in Alpaca's own app
    alpaca_fake.set_price("AAPL", "101")

    account = client.get_account()
    positions = {p.symbol: p for p in client.get_all_positions()}

    # cash 100000 - 6 x 99.40 + 2 x 300.25 = 100004.10; equity = cash + 6 x 101 - 2 x 300.25 = 100009.60
    assert (account.cash, account.equity, account.long_market_value, account.short_market_value) == (
        "100004.1", "100009.6", "606", "-600.5")
    # buying power = equity - gross (606 + 600.50) - the 4 shares still to buy at 99.50 = 98405.10
    assert account.buying_power == "98405.1"
    assert (positions["AAPL"].qty, positions["AAPL"].avg_entry_price, positions["AAPL"].side.value) == ("6", "99.4", "long")
    assert (positions["MSFT"].qty, positions["MSFT"].side.value) == ("-2", "short")
    assert client.get_open_position("MSFT").market_value == "-600.5"
    with pytest.raises(APIError) as missing:
        client.get_open_position("TSLA")
    assert missing.value.status_code == 404
    alpaca_fake.set_position("NVDA", 5, "120.5")  # shares transferred in: no order, no cash moved
    assert (client.get_open_position("NVDA").qty, client.get_account().cash) == ("5", "100004.1")


def test_fill_activities_page_like_alpacas_and_name_the_execution(client, alpaca_fake):
    _buy(client, "p", qty=9)
    executions = [alpaca_fake.fill("p", price="99.5", qty=3) for _ in range(3)]

    first = client.get("/account/activities/FILL", {"direction": "asc", "page_size": 2})
    second = client.get("/account/activities/FILL", {"direction": "asc", "page_size": 2, "page_token": first[-1]["id"]})

    # alpaca-py 0.44 has no Trading API activities call (its TradeActivity is the Broker API's, with account_id)
    assert [(a["activity_type"], a["type"], a["qty"], a["cum_qty"], a["leaves_qty"], a["order_status"], a["symbol"])
            for a in first + second] == [
        ("FILL", "partial_fill", "3", "3", "6", "partially_filled", "AAPL"),
        ("FILL", "partial_fill", "3", "6", "3", "partially_filled", "AAPL"),
        ("FILL", "fill", "3", "9", "0", "filled", "AAPL")]
    assert {a["order_id"] for a in first + second} == {str(client.get_order_by_client_id("p").id)}
    assert [row["id"].split("::")[1] for row in first + second] == [e.execution_id for e in executions]


# --- REST: market data -----------------------------------------------------------------------------------

def test_bars_are_paged_and_adjusted_as_the_sdk_reads_them(alpaca_fake):
    alpaca_fake.add_bars("AAPL", [(dt.date(2020, 1, 2), 296, 300, 295, 300, 10), (dt.date(2020, 1, 3), 297, 300, 296, 298, 11)],
                         adjusted=[(dt.date(2020, 1, 2), 74, 75, 73.75, 75, 40), (dt.date(2020, 1, 3), 74.25, 75, 74, 74.5, 44)])
    alpaca_fake.add_bars("SPY", [(dt.date(2020, 1, 2), 323.5, 324.9, 322.5, 324.87, 5)])
    alpaca_fake.bars.page_limit = 1
    data = StockHistoricalDataClient(alpaca_fake.api_key, alpaca_fake.secret_key, url_override=alpaca_fake.url)

    def closes(adjustment):
        bars = data.get_stock_bars(StockBarsRequest(symbol_or_symbols=["AAPL", "SPY"], timeframe=TimeFrame.Day,
                                                    start=dt.datetime(2020, 1, 1), adjustment=adjustment))
        return {symbol: [(b.timestamp, b.close) for b in rows] for symbol, rows in bars.data.items()}

    new_york_midnight = dt.datetime(2020, 1, 2, 5, tzinfo=UTC)  # 00:00 in New York (EST)
    assert closes(Adjustment.RAW) == {"AAPL": [(new_york_midnight, 300.0), (new_york_midnight + dt.timedelta(days=1), 298.0)],
                                      "SPY": [(new_york_midnight, 324.87)]}
    assert closes(Adjustment.ALL)["AAPL"] == [(new_york_midnight, 75.0), (new_york_midnight + dt.timedelta(days=1), 74.5)]
    assert len([r for r in alpaca_fake.requests if r.path == "/v2/stocks/bars"]) == 6  # one bar per page


# --- faults --------------------------------------------------------------------------------------------

def test_faults_fail_the_next_request_as_asked(client, alpaca_fake):
    alpaca_fake.fail_next("GET", "/v2/account", status=503)
    with pytest.raises(APIError) as unavailable:
        client.get_account()
    assert (unavailable.value.status_code, json.loads(str(unavailable.value))["code"]) == (503, 50300000)

    alpaca_fake.reset_next("POST", "/v2/orders", store=True)
    with pytest.raises(requests.ConnectionError):
        _buy(client, "lost-answer")
    assert client.get_order_by_client_id("lost-answer").qty == "10"  # stored although the answer never came
    assert client.get_account().cash == "100000"  # the faults are used up


# --- the trading stream ----------------------------------------------------------------------------------

@contextmanager
def running(stream, fake: FakeAlpaca, kind: str):
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    fake.wait_for_streams(kind)
    try:
        yield
    finally:
        stream.stop()
        fake.drop_streams(kind)  # the SDK only notices a stop between receives
        thread.join(10)


def _trading_stream(fake: FakeAlpaca, *, raw: bool) -> tuple[TradingStream, queue.Queue]:
    updates: queue.Queue = queue.Queue()
    stream = TradingStream(fake.api_key, fake.secret_key, raw_data=raw, url_override=fake.trading_stream_url)

    async def collect(update):
        updates.put(update)

    stream.subscribe_trade_updates(collect)
    return stream, updates


def test_the_trading_stream_delivers_every_event_as_the_sdk_parses_it(client, alpaca_fake):
    stream, updates = _trading_stream(alpaca_fake, raw=False)
    with running(stream, alpaca_fake, "trading"):
        _buy(client, "t1", qty=10)
        alpaca_fake.fill("t1", price="99.45", qty=4)
        alpaca_fake.fill("t1", price="99.5")
        _buy(client, "t2")
        alpaca_fake.cancel("t2")
        _buy(client, "t3")
        alpaca_fake.expire("t3")
        _buy(client, "t4")
        alpaca_fake.reject("t4")
        received = [updates.get(timeout=10) for _ in range(9)]

    assert [(u.event, u.order.client_order_id) for u in received] == [
        ("new", "t1"), ("partial_fill", "t1"), ("fill", "t1"), ("new", "t2"), ("canceled", "t2"),
        ("new", "t3"), ("expired", "t3"), ("new", "t4"), ("rejected", "t4")]
    partial, fill = received[1], received[2]
    assert (partial.qty, partial.price, partial.position_qty, partial.order.filled_qty) == (4.0, 99.45, 4.0, "4")
    assert (fill.qty, fill.position_qty, fill.order.status, fill.order.filled_avg_price) == (6.0, 10.0, OrderStatus.FILLED, "99.48")
    assert partial.execution_id != fill.execution_id and fill.execution_id is not None


def test_raw_trade_updates_keep_alpacas_exact_strings(client, alpaca_fake):
    stream, updates = _trading_stream(alpaca_fake, raw=True)
    with running(stream, alpaca_fake, "trading"):
        client.submit_order(MarketOrderRequest(symbol="AAPL", qty=0.333, side="buy", time_in_force="day", client_order_id="r1"))
        execution = alpaca_fake.fill("r1", price="187.0123")
        new, fill = updates.get(timeout=10), updates.get(timeout=10)

    assert new["stream"] == "trade_updates" and new["data"]["event"] == "new"
    assert {k: fill["data"][k] for k in ("event", "execution_id", "qty", "price", "position_qty")} == {
        "event": "fill", "execution_id": execution.execution_id, "qty": "0.333", "price": "187.0123", "position_qty": "0.333"}


def test_after_a_dropped_socket_the_sdk_reconnects_and_missed_fills_are_in_rest(client, alpaca_fake):
    stream, updates = _trading_stream(alpaca_fake, raw=True)
    with running(stream, alpaca_fake, "trading"):
        _buy(client, "d1", qty=10)
        assert updates.get(timeout=10)["data"]["event"] == "new"
        alpaca_fake.drop_streams("trading")
        missed = alpaca_fake.fill("d1", price="99.5", qty=2)  # while nobody listens
        alpaca_fake.wait_for_streams("trading")
        alpaca_fake.fill("d1", price="99.5", qty=3)
        after = updates.get(timeout=10)

    assert alpaca_fake.trade_updates[-2]["delivered_to"] == 0
    assert (after["data"]["event"], after["data"]["qty"], after["data"]["position_qty"]) == ("partial_fill", "3", "5")
    caught_up = client.get("/account/activities/FILL", {"direction": "asc"})
    assert [row["id"].split("::")[1] for row in caught_up][0] == missed.execution_id


def test_a_half_open_trading_socket_gets_nothing(client, alpaca_fake):
    stream, updates = _trading_stream(alpaca_fake, raw=True)
    with running(stream, alpaca_fake, "trading"):
        assert alpaca_fake.hold_streams_half_open("trading") == 1
        _buy(client, "h1")

    assert alpaca_fake.trade_updates[-1]["event"] == "new" and alpaca_fake.trade_updates[-1]["delivered_to"] == 0
    assert updates.empty()


def test_the_trading_stream_speaks_json_in_binary_frames_and_refuses_wrong_keys(alpaca_fake):
    with connect(alpaca_fake.trading_stream_url) as socket:
        socket.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        before_auth = socket.recv(timeout=10)
        socket.send(json.dumps({"action": "authenticate", "data": {"key_id": alpaca_fake.api_key, "secret_key": "wrong"}}))
        refused = socket.recv(timeout=10)

    assert isinstance(before_auth, bytes) and isinstance(refused, bytes)
    assert json.loads(before_auth) == {"stream": "authorization", "data": {"action": "listen", "status": "unauthorized"}}
    assert json.loads(refused) == {"stream": "authorization", "data": {"action": "authenticate", "status": "unauthorized"}}


# --- the market-data stream ------------------------------------------------------------------------------

def test_the_data_stream_delivers_trades_quotes_and_bars_as_the_sdk_parses_them(alpaca_fake):
    received: queue.Queue = queue.Queue()
    stream = StockDataStream(alpaca_fake.api_key, alpaca_fake.secret_key, url_override=alpaca_fake.data_stream_url())

    async def collect(item):
        received.put(item)

    stream.subscribe_trades(collect, "AAPL")
    stream.subscribe_quotes(collect, "AAPL")
    stream.subscribe_bars(collect, "SPY")
    moment = dt.datetime(2026, 11, 24, 15, 0, 1, 250000, tzinfo=UTC)
    with running(stream, alpaca_fake, "data"):
        delivered = [alpaca_fake.push_trade("AAPL", "190.12", 5, moment=moment),
                     alpaca_fake.push_quote("AAPL", "190.10", "190.14", moment=moment),
                     alpaca_fake.push_bar("SPY", 600, 601, 599.5, 600.5, moment=moment),
                     alpaca_fake.push_trade("MSFT", "400")]
        trade, quote, bar = (received.get(timeout=10) for _ in range(3))

    assert delivered == [1, 1, 1, 0]  # MSFT: nobody subscribed
    assert (trade.symbol, trade.price, trade.size, trade.timestamp) == ("AAPL", 190.12, 5.0, moment)
    assert (quote.bid_price, quote.ask_price, quote.timestamp) == (190.10, 190.14, moment)
    assert (bar.symbol, bar.open, bar.close, bar.volume) == ("SPY", 600.0, 600.5, 1000.0)


def test_the_data_stream_answers_in_json_without_the_msgpack_header(alpaca_fake):
    with connect(alpaca_fake.data_stream_url()) as socket:
        connected = json.loads(socket.recv(timeout=10))
        socket.send(json.dumps({"action": "auth", "key": alpaca_fake.api_key, "secret": alpaca_fake.secret_key}))
        authenticated = json.loads(socket.recv(timeout=10))
        socket.send(json.dumps({"action": "subscribe", "trades": ["AAPL"]}))
        subscription = json.loads(socket.recv(timeout=10))
        alpaca_fake.push_trade("AAPL", "190.5", 7, moment=dt.datetime(2026, 11, 24, 15, 0, tzinfo=UTC))
        trade = json.loads(socket.recv(timeout=10))

    assert (connected, authenticated) == ([{"T": "success", "msg": "connected"}], [{"T": "success", "msg": "authenticated"}])
    assert subscription[0]["T"] == "subscription" and subscription[0]["trades"] == ["AAPL"]
    assert trade == [{"T": "t", "S": "AAPL", "i": 1, "x": "V", "p": 190.5, "s": 7, "c": ["@"],
                      "t": "2026-11-24T15:00:00.000000Z", "z": "C"}]


def _msgpack_socket(fake: FakeAlpaca):
    return connect(fake.data_stream_url(), additional_headers={"Content-Type": "application/msgpack"})


def test_a_second_data_connection_is_refused_while_a_half_open_one_lingers(alpaca_fake):
    def auth(socket, secret=alpaca_fake.secret_key):
        assert msgpack.unpackb(socket.recv(timeout=10)) == [{"T": "success", "msg": "connected"}]
        socket.send(msgpack.packb({"action": "auth", "key": alpaca_fake.api_key, "secret": secret}))
        return msgpack.unpackb(socket.recv(timeout=10))

    with _msgpack_socket(alpaca_fake) as first:
        assert auth(first) == [{"T": "success", "msg": "authenticated"}]
        alpaca_fake.hold_streams_half_open("data")
        with _msgpack_socket(alpaca_fake) as second:
            assert auth(second) == [{"T": "error", "code": 406, "msg": "connection limit exceeded"}]
        alpaca_fake.drop_streams("data")  # Alpaca finally reaps the dead socket
        with _msgpack_socket(alpaca_fake) as third:
            assert auth(third) == [{"T": "success", "msg": "authenticated"}]
        with _msgpack_socket(alpaca_fake) as stranger:
            assert auth(stranger, secret="wrong") == [{"T": "error", "code": 402, "msg": "auth failed"}]
