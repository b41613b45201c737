"""ORDER_MODE=REAL with the Alpaca adapter: orders go through POST /api/v1/orders/submit to a local Alpaca.

The fake (tests/alpaca_fake) answers as Alpaca does; alpaca-py's TradingClient talks to it over HTTP.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from alphaloop.models import AuditLog
from orders.models import Order
from tests.alpaca_fake import FakeAlpaca

ROOT = Path(__file__).resolve().parents[2]
ADAPTER = "orders.brokers.alpaca.AlpacaBroker"


@pytest.fixture
def alpaca(settings, account, aapl):
    """A real (non-paper) account in REAL mode routed to a local Alpaca; AAPL quoted at 100 on both sides."""
    with FakeAlpaca() as fake:
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        settings.ORDER_MODE = "REAL"
        settings.REAL_BROKER_ADAPTER = ADAPTER
        account.is_paper = False
        account.save()
        fake.set_price("AAPL", "100")
        yield fake


def _submit(api, **body):
    return api.post("/api/v1/orders/submit", {"symbol": "AAPL", **body}, format="json")


# --- what arrives at Alpaca --------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "wire"),
    [
        ({"side": "BUY", "quantity": "2.5", "order_type": "MARKET", "time_in_force": "DAY"},
         {"qty": "2.5", "side": "buy", "type": "market", "time_in_force": "day"}),
        ({"side": "BUY", "quantity": "10", "order_type": "LIMIT", "time_in_force": "GTC", "limit_price": "99.15"},
         {"qty": "10", "side": "buy", "type": "limit", "time_in_force": "gtc", "limit_price": "99.15"}),
        ({"side": "SELL", "quantity": "7", "order_type": "STOP", "time_in_force": "DAY", "stop_price": "98.50"},
         {"qty": "7", "side": "sell", "type": "stop", "time_in_force": "day", "stop_price": "98.5"}),
        ({"side": "SELL", "quantity": "3", "order_type": "STOP_LIMIT", "time_in_force": "GTC", "stop_price": "98.5",
          "limit_price": "98.25"},
         {"qty": "3", "side": "sell", "type": "stop_limit", "time_in_force": "gtc", "stop_price": "98.5",
          "limit_price": "98.25"}),
    ],
    ids=["market-day-buy", "limit-gtc-buy", "stop-day-short-sell", "stop-limit-gtc-short-sell"],
)
def test_an_order_arrives_at_alpaca_with_its_exact_fields_and_client_order_id(alpaca, trader_api, body, wire):
    answer = _submit(trader_api, client_order_id="al-1", **body)

    assert answer.status_code == 201, answer.data
    assert alpaca.submissions() == [{"symbol": "AAPL", "client_order_id": "al-1", **wire}]
    placed = alpaca.order("al-1")
    assert (answer.data["status"], answer.data["broker_order_id"]) == ("ACCEPTED", placed.id)
    assert Order.objects.get(client_order_id="al-1").broker_order_id == placed.id


# --- Alpaca's refusals -----------------------------------------------------------------------------------

@pytest.mark.django_db
def test_insufficient_buying_power_at_alpaca_is_a_rejected_order_with_alpacas_reason_and_code(alpaca, trader_api):
    alpaca.brokerage.cash = D("500")  # AlphaLoop's own ledger still has 100,000: the guard lets it through

    answer = _submit(trader_api, side="BUY", quantity="10", order_type="LIMIT", limit_price="99.50", client_order_id="bp-1")

    assert answer.status_code == 422
    reason = "Alpaca: insufficient buying power (HTTP 403, code 40310000)"
    assert (answer.data["code"], answer.data["detail"]) == ("broker_rejected", reason)
    order = Order.objects.get(client_order_id="bp-1")
    assert (order.status, order.reject_reason, order.broker_order_id) == (Order.REJECTED, reason, "")
    assert alpaca.brokerage.orders == []
    assert AuditLog.objects.filter(action="order.reject", resource=f"order:{order.pk}").get().payload["reason"] == reason


@pytest.mark.django_db
def test_an_order_alpaca_finds_invalid_is_rejected_with_its_422_message(alpaca, trader_api):
    answer = _submit(trader_api, side="BUY", quantity="1", order_type="LIMIT", limit_price="99.123")  # sub-penny

    assert answer.status_code == 422
    assert answer.data["detail"] == ("Alpaca: invalid limit_price 99.123. sub-penny increment does not fulfill "
                                     "minimum pricing criteria (HTTP 422, code 42210000)")
    assert alpaca.brokerage.orders == []


@pytest.mark.django_db
def test_a_rate_limited_submit_waits_as_retry_after_says_and_places_one_order(alpaca, trader_api):
    alpaca.fail_next("POST", "/v2/orders", status=429, headers={"Retry-After": "0"}, times=2)

    answer = _submit(trader_api, side="BUY", quantity="1", client_order_id="rl-1")

    assert (answer.status_code, answer.data["status"]) == (201, "ACCEPTED")
    assert len(alpaca.submissions()) == 3
    assert [o.client_order_id for o in alpaca.brokerage.orders] == ["rl-1"]


@pytest.mark.django_db
def test_a_submit_still_rate_limited_after_the_retries_stays_new_and_nothing_is_placed(alpaca, trader_api, settings):
    settings.ALPACA_MAX_RETRIES = 1
    alpaca.fail_next("POST", "/v2/orders", status=429, headers={"Retry-After": "0"}, times=5)

    answer = _submit(trader_api, side="BUY", quantity="1", client_order_id="rl-2")

    assert (answer.status_code, answer.data["code"]) == (503, "broker_unavailable")
    assert Order.objects.get(client_order_id="rl-2").status == Order.NEW
    assert len(alpaca.submissions()) == 2 and alpaca.brokerage.orders == []


@pytest.mark.django_db
def test_a_retry_after_longer_than_allowed_gives_up_at_once(alpaca, trader_api, settings):
    settings.ALPACA_MAX_RETRY_AFTER_SECONDS = 5
    alpaca.fail_next("POST", "/v2/orders", status=429, headers={"Retry-After": "60"})

    answer = _submit(trader_api, side="BUY", quantity="1", client_order_id="rl-3")

    assert answer.status_code == 503 and len(alpaca.submissions()) == 1


# --- unknown outcomes: never resent blindly -------------------------------------------------------------

@pytest.mark.django_db
def test_a_submit_that_times_out_is_looked_up_not_resent_and_a_retry_places_nothing(alpaca, trader_api, settings):
    settings.ALPACA_TIMEOUT_SECONDS = D("0.5")
    alpaca.timeout_next_submit(store=True)  # Alpaca keeps the order, the answer never comes

    first = _submit(trader_api, side="BUY", quantity="4", order_type="LIMIT", limit_price="99", client_order_id="to-1")
    again = _submit(trader_api, side="BUY", quantity="4", order_type="LIMIT", limit_price="99", client_order_id="to-1")

    placed = alpaca.order("to-1")
    assert (first.status_code, first.data["status"], first.data["broker_order_id"]) == (201, "ACCEPTED", placed.id)
    assert (again.status_code, again.data["id"]) == (200, first.data["id"])
    assert len(alpaca.submissions()) == 1 and len(alpaca.brokerage.orders) == 1
    lookups = [r.query for r in alpaca.requests if r.path == "/v2/orders:by_client_order_id"]
    assert lookups == [{"client_order_id": "to-1"}]


@pytest.mark.django_db
def test_a_timeout_while_alpaca_cannot_be_asked_leaves_the_order_new_and_the_retry_places_nothing(alpaca, trader_api, settings):
    settings.ALPACA_TIMEOUT_SECONDS = D("0.5")
    alpaca.timeout_next_submit(store=True)
    alpaca.fail_next("GET", "/v2/orders:by_client_order_id", status=503)

    first = _submit(trader_api, side="BUY", quantity="4", client_order_id="to-2")
    again = _submit(trader_api, side="BUY", quantity="4", client_order_id="to-2")

    assert (first.status_code, first.data["code"]) == (503, "broker_unavailable")
    assert (again.status_code, again.data["status"]) == (200, "NEW")
    assert len(alpaca.submissions()) == 1 and len(alpaca.brokerage.orders) == 1


@pytest.mark.django_db
def test_a_request_that_never_reached_alpaca_is_sent_once_more(alpaca, trader_api):
    alpaca.reset_next("POST", "/v2/orders", store=False)  # the connection drops before Alpaca stores anything

    answer = _submit(trader_api, side="BUY", quantity="2", client_order_id="rs-1")

    assert (answer.status_code, answer.data["status"]) == (201, "ACCEPTED")
    assert [body["client_order_id"] for body in alpaca.submissions()] == ["rs-1", "rs-1"]
    assert len(alpaca.brokerage.orders) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("status", [500, 503, 504])
def test_a_server_error_after_alpaca_stored_the_order_is_looked_up_and_adopted_not_resent(alpaca, trader_api, status):
    alpaca.fail_next("POST", "/v2/orders", status=status, store=True)

    answer = _submit(trader_api, side="BUY", quantity="2", client_order_id="se-1")

    assert (answer.status_code, answer.data["broker_order_id"]) == (201, alpaca.order("se-1").id)
    assert len(alpaca.submissions()) == 1  # neither the SDK (it retries 504 by default) nor the adapter resent it


@pytest.mark.django_db
def test_a_client_order_id_alpaca_already_holds_for_the_same_order_is_adopted(alpaca, trader_api):
    earlier = alpaca.brokerage.submit({"symbol": "AAPL", "qty": "5", "side": "buy", "type": "limit",
                                       "time_in_force": "day", "limit_price": "98", "client_order_id": "dup-1"})

    answer = _submit(trader_api, side="BUY", quantity="5", order_type="LIMIT", limit_price="98", client_order_id="dup-1")

    assert (answer.status_code, answer.data["status"], answer.data["broker_order_id"]) == (201, "ACCEPTED", earlier.id)
    assert len(alpaca.brokerage.orders) == 1


@pytest.mark.django_db
def test_a_client_order_id_alpaca_holds_for_another_order_is_refused(alpaca, trader_api):
    alpaca.brokerage.submit({"symbol": "MSFT", "qty": "5", "side": "sell", "type": "market", "time_in_force": "day",
                             "client_order_id": "dup-2"})

    answer = _submit(trader_api, side="BUY", quantity="5", client_order_id="dup-2")

    assert answer.status_code == 422
    assert answer.data["detail"] == ("Alpaca already holds another order under client_order_id dup-2 (symbol MSFT "
                                     "instead of AAPL; side sell instead of buy)")
    assert len(alpaca.brokerage.orders) == 1


@pytest.mark.django_db
def test_an_order_alpaca_fills_in_its_answer_is_accepted_and_left_to_the_fill_event(alpaca, trader_api):
    alpaca.fill_next_submit("100.02")

    answer = _submit(trader_api, side="BUY", quantity="3", client_order_id="fx-1")

    order = Order.objects.get(client_order_id="fx-1")
    assert (answer.status_code, order.status, order.fills.count()) == (201, Order.ACCEPTED, 0)
    fill = next(u for u in alpaca.trade_updates if u["event"] == "fill")
    assert (fill["order"]["client_order_id"], fill["qty"], fill["price"]) == ("fx-1", "3", "100.02")
    assert fill["execution_id"]  # what the stream worker books the fill under


# --- cancel -----------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_cancel_goes_to_alpaca_and_the_order_is_cancelled_once_alpaca_confirms(alpaca, trader_api):
    order_id = _submit(trader_api, side="BUY", quantity="1", order_type="LIMIT", limit_price="95", client_order_id="cx-1").data["id"]

    answer = trader_api.post(f"/api/v1/orders/{order_id}/cancel")

    assert (answer.status_code, answer.data["status"]) == (200, "CANCELLED")
    placed = alpaca.order("cx-1")
    assert placed.status == "canceled"
    assert [r.path for r in alpaca.requests if r.method == "DELETE"] == [f"/v2/orders/{placed.id}"]
    assert [u["event"] for u in alpaca.trade_updates] == ["new", "canceled"]


@pytest.mark.django_db
def test_a_cancel_alpaca_has_not_confirmed_leaves_the_order_open_until_it_does(alpaca, trader_api, settings):
    settings.ALPACA_CANCEL_CONFIRM_SECONDS = D("0.2")
    alpaca.hold_cancels = True
    order_id = _submit(trader_api, side="BUY", quantity="1", order_type="LIMIT", limit_price="95", client_order_id="cx-2").data["id"]

    pending = trader_api.post(f"/api/v1/orders/{order_id}/cancel")

    assert (pending.status_code, pending.data["code"]) == (503, "broker_unavailable")
    assert Order.objects.get(pk=order_id).status == Order.ACCEPTED
    assert alpaca.order("cx-2").status == "pending_cancel"

    alpaca.confirm_cancel("cx-2")
    confirmed = trader_api.post(f"/api/v1/orders/{order_id}/cancel")
    assert (confirmed.status_code, confirmed.data["status"]) == (200, "CANCELLED")


@pytest.mark.django_db
def test_a_cancel_of_an_order_alpaca_already_filled_is_refused_and_the_order_stays_open(alpaca, trader_api):
    order_id = _submit(trader_api, side="BUY", quantity="1", order_type="LIMIT", limit_price="95", client_order_id="cx-3").data["id"]
    alpaca.fill("cx-3", price="95")

    answer = trader_api.post(f"/api/v1/orders/{order_id}/cancel")

    assert answer.status_code == 503
    assert "the order is already filled at Alpaca; nothing was cancelled" in answer.data["detail"]
    assert Order.objects.get(pk=order_id).status == Order.ACCEPTED  # the fill event books it


# --- status, positions, account ------------------------------------------------------------------------

@pytest.mark.django_db
def test_status_positions_and_account_are_read_from_alpaca_exactly(alpaca, trader_api, account):
    from orders.brokers import BrokerAccount, BrokerPosition
    from orders.brokers.alpaca import AlpacaBroker

    order_id = _submit(trader_api, side="BUY", quantity="10", order_type="LIMIT", limit_price="99.5", client_order_id="st-1").data["id"]
    alpaca.fill("st-1", price="99.45", qty="4")
    alpaca.external_fill("MSFT", "sell", "3", "310.10")  # a short sale placed in Alpaca's own app
    alpaca.set_price("MSFT", "300")
    broker = AlpacaBroker()
    never_sent = Order(account=account, client_order_id="not-at-alpaca", symbol="AAPL", side=Order.BUY, quantity=D("1"))

    assert broker.status(Order.objects.get(pk=order_id)) == Order.PARTIALLY_FILLED
    assert broker.status(never_sent) == Order.NEW
    assert broker.positions(account) == [BrokerPosition("AAPL", D("4"), D("99.45")), BrokerPosition("MSFT", D("-3"), D("310.1"))]
    # cash 100000 - 4 x 99.45 + 3 x 310.10 = 100532.50; equity = cash + 4 x 100 - 3 x 300 = 100032.50;
    # buying power = equity - gross exposure (400 + 900) - the 6 shares still to buy at 99.50 (597) = 98135.50
    assert broker.account(account) == BrokerAccount(cash=D("100532.5"), equity=D("100032.5"), currency="USD",
                                                    buying_power=D("98135.5"))


# --- settings and secrets -------------------------------------------------------------------------------

def _start_django(env_overrides: dict, code: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "SECRET_KEY", "JWT_SIGNING_KEY"))
           and k not in {"DEBUG", "DJANGO_SETTINGS_MODULE", "ORDER_MODE", "REAL_BROKER_ADAPTER", "BROKER"}}
    env.update({"ALPHALOOP_ENV_FILE": "/nonexistent", "DJANGO_SETTINGS_MODULE": "alphaloop.settings", "DEBUG": "true",
                **env_overrides})
    return subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_broker_alpaca_names_the_alpaca_adapter_and_real_mode_starts_with_its_keys():
    result = _start_django({"ORDER_MODE": "REAL", "BROKER": "alpaca", "ALPACA_API_KEY": "PKAAAAAAAAAAAAAAAAAA",
                            "ALPACA_SECRET_KEY": "s" * 40},
                           "from django.conf import settings; print(settings.REAL_BROKER_ADAPTER)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ADAPTER


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ORDER_MODE": "REAL", "BROKER": "alpaca"}, "Alpaca needs ALPACA_API_KEY and ALPACA_SECRET_KEY"),
        ({"BROKER": "alpaca", "REAL_BROKER_ADAPTER": "tests.orders.venue_adapter.RecordingVenue"},
         "BROKER=alpaca names orders.brokers.alpaca.AlpacaBroker but REAL_BROKER_ADAPTER="),
        ({"BROKER": "ib"}, "BROKER must be one of alpaca, got 'ib'"),
        ({"ALPACA_TRADING_STREAM_URL": "https://paper-api.alpaca.markets/stream"},
         "ALPACA_TRADING_STREAM_URL must start with wss:// or ws://"),
    ],
    ids=["real-mode-without-keys", "conflicting-adapter", "unknown-broker", "stream-url-not-a-websocket"],
)
def test_a_misconfigured_alpaca_refuses_to_start_naming_the_setting(env, message):
    result = _start_django(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_every_client_and_stream_honours_the_url_overrides_and_paper_switch(settings):
    from alphaloop import alpaca_clients

    settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY = "PKAAAAAAAAAAAAAAAAAA", "s" * 40
    for name in ("ALPACA_TRADING_URL", "ALPACA_DATA_URL", "ALPACA_TRADING_STREAM_URL", "ALPACA_DATA_STREAM_URL"):
        setattr(settings, name, "")
    settings.ALPACA_PAPER = True
    defaults = (alpaca_clients.trading_client()._base_url, alpaca_clients.historical_data_client()._base_url,
                alpaca_clients.trading_stream()._endpoint, alpaca_clients.stock_data_stream()._endpoint)
    assert defaults == ("https://paper-api.alpaca.markets", "https://data.alpaca.markets",
                        "wss://paper-api.alpaca.markets/stream", "wss://stream.data.alpaca.markets/v2/iex")
    settings.ALPACA_PAPER = False
    assert (alpaca_clients.trading_client()._base_url, alpaca_clients.trading_stream()._endpoint) == (
        "https://api.alpaca.markets", "wss://api.alpaca.markets/stream")

    settings.ALPACA_TRADING_URL, settings.ALPACA_DATA_URL = "http://127.0.0.1:9001", "http://127.0.0.1:9002"
    settings.ALPACA_TRADING_STREAM_URL, settings.ALPACA_DATA_STREAM_URL = "ws://127.0.0.1:9003/stream", "ws://127.0.0.1:9004/v2/sip"
    assert (alpaca_clients.trading_client()._base_url, alpaca_clients.historical_data_client()._base_url,
            alpaca_clients.trading_stream()._endpoint, alpaca_clients.stock_data_stream()._endpoint) == (
        "http://127.0.0.1:9001", "http://127.0.0.1:9002", "ws://127.0.0.1:9003/stream", "ws://127.0.0.1:9004/v2/sip")


@pytest.fixture
def console_output():
    """Everything the configured console handler writes (redaction filter included), every logger at DEBUG."""
    root = logging.getLogger()
    console = next(h for h in root.handlers if h.get_name() == "console")
    buffer = io.StringIO()
    previous_stream, previous_level = console.setStream(buffer), console.level
    loggers = [root, *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    levels = {logger: logger.level for logger in loggers}
    console.setLevel(logging.DEBUG)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    yield buffer.getvalue
    console.setStream(previous_stream)
    console.setLevel(previous_level)
    for logger, level in levels.items():
        logger.setLevel(level)


@pytest.mark.django_db
def test_alpaca_keys_never_reach_a_log_line_an_api_answer_or_the_audit_log(alpaca, trader_api, settings, console_output):
    settings.ALPACA_TIMEOUT_SECONDS = D("0.5")
    alpaca.brokerage.cash = D("1000")
    answers = [
        _submit(trader_api, side="BUY", quantity="1", order_type="LIMIT", limit_price="95", client_order_id="k-1"),
        _submit(trader_api, side="BUY", quantity="50", order_type="LIMIT", limit_price="99"),  # 403 at Alpaca
    ]
    alpaca.timeout_next_submit(store=True)
    answers.append(_submit(trader_api, side="BUY", quantity="1"))
    answers.append(trader_api.post(f"/api/v1/orders/{answers[0].data['id']}/cancel"))
    logging.getLogger("orders.brokers.alpaca").warning("keys %s / %s", settings.ALPACA_API_KEY, settings.ALPACA_SECRET_KEY)

    output = console_output()
    written = output + "".join(a.content.decode() for a in answers) + "".join(
        str(payload) for payload in AuditLog.objects.values_list("payload", flat=True))
    assert [a.status_code for a in answers] == [201, 422, 201, 200]
    assert "keys [redacted] / [redacted]" in output
    assert settings.ALPACA_API_KEY not in written and settings.ALPACA_SECRET_KEY not in written
