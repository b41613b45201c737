"""Alpaca's trade updates into the ledger: the stream worker against a local Alpaca, through alpaca-py.

The worker's stream thread runs alpaca-py's TradingStream against tests/alpaca_fake; the test thread books what
it queued (``worker.step``) until the condition it waits for holds, so every row is written in the test's own
database transaction. Time is frozen inside a session (the fake stamps its executions with that time).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal as D
from pathlib import Path

import pytest

from alphaloop.models import AuditLog
from notifications.models import LiveEvent
from orders.brokers.alpaca_stream import AlpacaTradeStream, broker_stream_build
from orders.models import Account, Fill, Order, Position
from tests.alpaca_fake import FakeAlpaca

ADAPTER = "orders.brokers.alpaca.AlpacaBroker"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def alpaca(settings, account, aapl):
    """A real account in REAL mode routed to a local Alpaca; the stream reconnects and pings fast."""
    with FakeAlpaca() as fake:
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        settings.ORDER_MODE = "REAL"
        settings.REAL_BROKER_ADAPTER = ADAPTER
        settings.ALPACA_STREAM_BACKOFF_SECONDS = D("0.05")
        settings.ALPACA_STREAM_MAX_BACKOFF_SECONDS = D("0.4")
        settings.ALPACA_STREAM_PING_SECONDS = D("0.3")
        account.is_paper = False
        account.save()
        fake.set_price("AAPL", "100")
        yield fake


@pytest.fixture
def worker(alpaca, session_time):
    """The worker's stream thread connected to the fake and its first catch-up done; the test books (``until``)."""
    stream = AlpacaTradeStream().start(booker=False)
    alpaca.wait_for_streams("trading")
    until(stream, lambda: stream.catch_ups == 1)
    yield stream
    stream.stop()


def until(worker: AlpacaTradeStream, condition, timeout: float = 10.0) -> None:
    """Book what the worker queued until ``condition()`` holds (a test failure after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting after {timeout} s")
        worker.step(0.05)


def _order(client_order_id: str) -> Order:
    return Order.objects.get(client_order_id=client_order_id)


def _status(client_order_id: str) -> str:
    return _order(client_order_id).status


def _buy(api, client_order_id: str, quantity: str = "10", limit: str = "99.50") -> dict:
    body = {"symbol": "AAPL", "side": "BUY", "quantity": quantity, "order_type": "LIMIT", "limit_price": limit,
            "client_order_id": client_order_id}
    answer = api.post("/api/v1/orders/submit", body, format="json")
    assert answer.status_code == 201, answer.data
    return answer.data


def _cash(account) -> D:
    return Account.objects.get(pk=account.pk).cash


# --- fills -------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_fill_and_a_partial_fill_on_the_stream_book_positions_and_cash_to_the_cent(
    alpaca, worker, trader_api, account, django_capture_on_commit_callbacks
):
    _buy(trader_api, "st-1", quantity="10", limit="99.50")
    _buy(trader_api, "st-2", quantity="10", limit="99.00")
    filled = alpaca.fill("st-1", price="99.47")
    partial = alpaca.fill("st-2", price="98.75", qty="4")

    with django_capture_on_commit_callbacks(execute=True):
        until(worker, lambda: _status("st-1") == Order.FILLED and _status("st-2") == Order.PARTIALLY_FILLED)

    first, second = _order("st-1"), _order("st-2")
    assert (first.filled_quantity, first.avg_fill_price) == (D("10"), D("99.47"))
    assert first.broker_order_id == alpaca.order("st-1").id
    assert (second.filled_quantity, second.remaining_quantity, second.avg_fill_price) == (D("4"), D("6"), D("98.75"))
    assert [(f.external_id, f.quantity, f.price, f.commission) for f in Fill.objects.order_by("id")] == [
        (filled.execution_id, D("10"), D("99.47"), D("0.00")), (partial.execution_id, D("4"), D("98.75"), D("0.00"))]
    position = Position.objects.get(account=account, symbol="AAPL")
    # 10 x 99.47 = 994.70 and 4 x 98.75 = 395.00: cash 100,000 - 1,389.70; cost 1,389.70 / 14 shares
    assert (position.quantity, position.cost_basis, position.avg_cost) == (D("14"), D("1389.70"), D("99.264286"))
    assert _cash(account) == D("98610.30")
    pushed = LiveEvent.objects.filter(channel="order_update").values_list("event", "data__client_order_id")
    assert ("FILLED", "st-1") in list(pushed) and ("PARTIALLY_FILLED", "st-2") in list(pushed)
    assert AuditLog.objects.filter(action="order.fill", resource=f"order:{first.pk}").count() == 1


@pytest.mark.django_db
def test_two_fills_while_disconnected_are_booked_once_each_by_the_catch_up(alpaca, worker, trader_api, account):
    _buy(trader_api, "gap-1", quantity="10", limit="99.50")
    until(worker, lambda: worker.updates >= 1)  # its "new" update
    alpaca.refuse_trading_logins = True  # the reconnects are refused until the test lets them in
    alpaca.drop_streams("trading")
    missed = [alpaca.fill("gap-1", price="99.40", qty="3"), alpaca.fill("gap-1", price="99.45", qty="2")]
    assert [u["delivered_to"] for u in alpaca.trade_updates[-2:]] == [0, 0]
    alpaca.refuse_trading_logins = False

    until(worker, lambda: worker.catch_ups == 2)
    alpaca.fill("gap-1", price="99.50")  # the rest, on the new connection
    until(worker, lambda: _status("gap-1") == Order.FILLED)

    order = _order("gap-1")
    assert worker.connections == 2
    assert [f.external_id for f in order.fills.order_by("id")][:2] == [e.execution_id for e in missed]
    assert [(f.quantity, f.price) for f in order.fills.order_by("id")] == [
        (D("3"), D("99.40")), (D("2"), D("99.45")), (D("5"), D("99.50"))]
    # 298.20 + 198.90 + 497.50 = 994.60
    assert _cash(account) == D("99005.40")
    assert Position.objects.get(account=account, symbol="AAPL").quantity == D("10")


@pytest.mark.django_db
def test_an_execution_on_the_stream_and_again_in_the_catch_up_is_booked_once(alpaca, worker, trader_api, account):
    _buy(trader_api, "dup-1", quantity="10", limit="99.50")
    alpaca.fill("dup-1", price="99.50", qty="6")
    until(worker, lambda: _status("dup-1") == Order.PARTIALLY_FILLED)

    alpaca.drop_streams("trading")
    until(worker, lambda: worker.catch_ups == 2)

    assert worker.last_catch_up["duplicate"] == 1 and worker.last_catch_up["booked"] == 0
    assert Fill.objects.count() == 1
    assert _order("dup-1").filled_quantity == D("6")
    assert _cash(account) == D("99403.00")


@pytest.mark.django_db
def test_a_half_open_socket_is_dropped_and_the_fill_it_swallowed_is_booked(alpaca, worker, trader_api, account):
    _buy(trader_api, "half-1", quantity="5", limit="99.50")
    until(worker, lambda: worker.updates >= 1)
    alpaca.hold_streams_half_open("trading")  # no pong, no updates: the socket looks alive to nobody
    alpaca.fill("half-1", price="99.10")
    assert alpaca.trade_updates[-1]["delivered_to"] == 0

    until(worker, lambda: _status("half-1") == Order.FILLED)

    assert worker.connections == 2
    assert _cash(account) == D("99504.50")


@pytest.mark.django_db
def test_handshakes_refused_with_429_are_retried_and_the_reconnect_catches_up(alpaca, worker, trader_api, account):
    _buy(trader_api, "storm-1", quantity="2", limit="99.50")
    until(worker, lambda: worker.updates >= 1)
    handshakes = len([r for r in alpaca.requests if r.path == "/stream"])
    alpaca.refuse_trading_handshakes = 2
    alpaca.drop_streams("trading")
    alpaca.fill("storm-1", price="99.20")

    until(worker, lambda: worker.catch_ups == 2)

    assert len([r for r in alpaca.requests if r.path == "/stream"]) - handshakes == 3  # two 429s, then in
    assert (_status("storm-1"), _cash(account)) == (Order.FILLED, D("99801.60"))


def test_reconnect_delays_double_from_the_setting_jittered_and_capped(settings):
    from alphaloop.alpaca_clients import trading_stream

    settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY = "PKTEST", "secret"
    settings.ALPACA_STREAM_BACKOFF_SECONDS, settings.ALPACA_STREAM_MAX_BACKOFF_SECONDS = D("1"), D("60")
    stream = trading_stream()

    for failures, full in [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (40, 60)]:
        delays = [stream._reconnect_delay(failures) for _ in range(200)]
        assert full / 2 <= min(delays) and max(delays) <= full  # half to all of the doubled, capped delay
        assert max(delays) - min(delays) > full / 10  # jittered: a storm of clients spreads out


@pytest.mark.django_db
def test_an_execution_placed_in_alpacas_own_app_is_booked_as_a_broker_order(
    alpaca, worker, account, instrument_factory
):
    instrument_factory("MSFT")
    execution = alpaca.external_fill("MSFT", "buy", 2, "300.25")

    until(worker, lambda: Fill.objects.filter(external_id=execution.execution_id).exists())

    order = Order.objects.get(source=Order.BROKER)
    assert (order.account_id, order.symbol, order.side, order.status, order.quantity, order.broker_order_id) == (
        account.pk, "MSFT", "BUY", Order.FILLED, D("2"), execution.order.id)
    assert Position.objects.get(account=account, symbol="MSFT").quantity == D("2")
    assert _cash(account) == D("99399.50")


# --- the order's other states ----------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_cancel_and_a_rejection_by_alpaca_move_the_orders_with_alpacas_reason(
    alpaca, worker, trader_api, django_capture_on_commit_callbacks
):
    _buy(trader_api, "cx-1")
    _buy(trader_api, "rj-1", limit="99.00")
    alpaca.cancel("cx-1", reason="CORPORATE_ACTION")
    alpaca.reject("rj-1")

    with django_capture_on_commit_callbacks(execute=True):
        until(worker, lambda: _status("cx-1") == Order.CANCELLED and _status("rj-1") == Order.REJECTED)

    cancelled, rejected = _order("cx-1"), _order("rj-1")
    assert AuditLog.objects.get(action="order.cancel", resource=f"order:{cancelled.pk}").payload["reason"] == (
        "Alpaca: canceled (CORPORATE_ACTION)")
    assert (rejected.reject_code, rejected.reject_reason) == ("broker_rejected", "Alpaca: rejected")
    pushed = list(LiveEvent.objects.filter(channel="order_update").values_list("event", flat=True))
    assert "CANCELLED" in pushed and "REJECTED" in pushed


@pytest.mark.django_db
def test_an_order_alpaca_cancelled_while_disconnected_is_cancelled_by_the_catch_up(alpaca, worker, trader_api):
    _buy(trader_api, "cx-2", quantity="10")
    until(worker, lambda: worker.updates >= 1)
    alpaca.refuse_trading_logins = True
    alpaca.drop_streams("trading")
    alpaca.fill("cx-2", price="99.50", qty="4")
    alpaca.expire("cx-2")
    alpaca.refuse_trading_logins = False

    until(worker, lambda: worker.catch_ups == 2)

    order = _order("cx-2")
    assert (order.status, order.filled_quantity) == (Order.EXPIRED, D("4"))
    audit = AuditLog.objects.get(action="order.expire", resource=f"order:{order.pk}")
    assert audit.payload["reason"] == "Alpaca: expired"


@pytest.mark.django_db
def test_a_cancel_from_the_api_answers_200_when_the_stream_saw_it_first(alpaca, worker, trader_api, monkeypatch):
    from orders.brokers.alpaca import AlpacaBroker

    order = _buy(trader_api, "race-1")
    real_cancel = AlpacaBroker.cancel

    def cancel_then_stream(self, order):
        real_cancel(self, order)
        until(worker, lambda: _status("race-1") == Order.CANCELLED)  # the stream's "canceled" lands first

    monkeypatch.setattr(AlpacaBroker, "cancel", cancel_then_stream)
    answer = trader_api.post(f"/api/v1/orders/{order['id']}/cancel")

    assert (answer.status_code, answer.data["status"]) == (200, "CANCELLED")


# --- the entry points ---------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_worker_exists_only_when_orders_go_to_alpaca(alpaca, settings):
    assert isinstance(broker_stream_build(), AlpacaTradeStream)
    settings.ORDER_MODE = "PAPER"
    assert broker_stream_build() is None


def test_run_broker_stream_without_a_real_broker_says_so_and_waits_for_sigterm():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "alphaloop.test_settings", "ORDER_MODE": "PAPER"}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen([sys.executable, "manage.py", "run_broker_stream"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first_line = process.stdout.readline()  # blocks until the command has said what it does
        assert process.poll() is None  # still running: honcho would stop every process if it exited
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        process.kill()
    assert first_line.startswith("No real broker with a trade stream is configured (set ORDER_MODE=REAL and "
                                 "BROKER=alpaca)")


@pytest.mark.services  # two threads writing and reading one database: MariaDB (SQLite's shared test cache locks)
@pytest.mark.django_db(transaction=True)
def test_the_workers_own_booker_thread_books_a_fill_as_run_broker_stream_runs_it(alpaca, session_time, account):
    order = Order.objects.create(account=account, client_order_id="bg-1", symbol="AAPL", side=Order.BUY,
                                 order_type=Order.MARKET, quantity=D("3"), status=Order.NEW)
    alpaca.brokerage.submit({"symbol": "AAPL", "qty": "3", "side": "buy", "type": "market", "time_in_force": "day",
                             "client_order_id": "bg-1"})  # Alpaca has it; AlphaLoop never heard back
    stream = AlpacaTradeStream().start()
    try:
        alpaca.wait_for_streams("trading")
        alpaca.fill("bg-1", price="101.25")
        deadline = time.monotonic() + 10
        while Order.objects.get(pk=order.pk).status != Order.FILLED:
            assert time.monotonic() < deadline, "the booker thread did not book the fill"
            time.sleep(0.05)
    finally:
        stream.stop()

    order.refresh_from_db()
    assert (order.broker_order_id, order.filled_quantity) == (alpaca.order("bg-1").id, D("3"))
    assert _cash(account) == D("99696.25")
