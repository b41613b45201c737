"""MARKET_FEED=alpaca: real trades from (a local) Alpaca's data stream through the tick pipeline.

The feed's loop runs in the test's thread (it reads and writes the database); a helper thread plays the
market on the fake server, waiting on what the feed subscribed to, never on a fixed sleep.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from decimal import Decimal as D
from pathlib import Path

import pytest

from alerts.models import AlertHistory, PriceAlert
from marketdata.feeds import AlpacaFeed, feed_build
from marketdata.models import Quote
from marketdata.pipeline import ticks_ingest
from notifications.models import NotificationLog
from orders.models import Order
from tests.alpaca_fake import FakeAlpaca
from tests.delivery import committed

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc
SESSION = dt.datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # Tuesday 10:00 ET


@pytest.fixture
def alpaca(settings):
    with FakeAlpaca() as fake:
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        settings.MARKET_FEED = "alpaca"
        settings.MARKET_FEED_WATCHLIST = ["SPY"]
        yield fake


@pytest.fixture
def market(instrument_factory, bars_factory):
    for symbol, close in (("SPY", 600), ("AAPL", 100), ("MSFT", 400)):
        bars_factory(symbol, [close - 1, close], end=dt.date(2026, 11, 23))
        instrument_factory(symbol)


def _ingest(batches: list):
    def emit(quotes):
        batches.append(quotes)
        with committed():
            ticks_ingest(quotes, source="feed")
    return emit


def _play(script, stop: threading.Event, failures: list) -> threading.Thread:
    """Run ``script`` (the market's side) in a thread; it always ends the feed's loop, on failure too."""
    def run():
        try:
            script()
        except BaseException as exc:  # noqa: B036 - reported by the test
            failures.append(exc)
        finally:
            stop.set()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_the_alpaca_feed_ingests_the_subscribed_trades_and_follows_a_new_alerts_symbol(alpaca, market, account):
    batches: list = []
    stop, failures = threading.Event(), []
    alert_made = threading.Event()
    feed = AlpacaFeed(interval=0.05, refresh=0.1)

    def market_side():
        assert alpaca.wait_for_subscriptions(lambda s: "SPY" in s) == {"SPY"}
        assert [alpaca.push_trade("SPY", "600.25", 10), alpaca.push_trade("SPY", "600.5", 5),
                alpaca.push_trade("MSFT", "401")] == [1, 1, 0]  # MSFT matters to nobody: not subscribed
        assert alert_made.wait(10)
        alpaca.wait_for_subscriptions(lambda s: s == {"SPY", "AAPL"})
        alpaca.push_trade("AAPL", "190.12", 100)
        alpaca.wait_for_subscriptions(lambda s: s == {"SPY"})  # the alert fired: AAPL no longer matters

    def emit(quotes):
        _ingest(batches)(quotes)
        if not alert_made.is_set() and Quote.objects.get(instrument__symbol="SPY").price == D("600.5"):
            PriceAlert.objects.create(account=account, symbol="AAPL", condition_type=PriceAlert.PRICE_ABOVE,
                                      threshold=D("190"))
            alert_made.set()

    player = _play(market_side, stop, failures)
    feed.run(emit, stop)
    player.join(10)

    assert failures == []
    spy = [(p, v) for batch in batches for s, p, v in batch if s == "SPY"]
    assert spy[-1][0] == D("600.5") and sum(v for _, v in spy) == 15
    assert [(s, p, v) for batch in batches for s, p, v in batch if s != "SPY"] == [("AAPL", D("190.12"), 100)]
    assert dict(Quote.objects.filter(source="feed").values_list("instrument__symbol", "price")) == {
        "SPY": D("600.5"), "AAPL": D("190.12")}
    fired = AlertHistory.objects.get()
    assert (fired.alert.symbol, fired.alert.alert_status) == ("AAPL", PriceAlert.TRIGGERED)
    assert not feed.thread.is_alive()  # the stream stopped with the feed


def test_a_dropped_data_stream_reconnects_and_resubscribes(alpaca, market):
    batches: list = []
    stop, failures = threading.Event(), []

    def market_side():
        alpaca.wait_for_subscriptions(lambda s: "SPY" in s)
        alpaca.push_trade("SPY", "600.10", 1)
        alpaca.drop_streams("data")
        alpaca.wait_for_subscriptions(lambda s: "SPY" in s, timeout=20)  # alpaca-py's backoff: ~1 s first
        alpaca.push_trade("SPY", "601.20", 2)
        got_second.wait(10)

    got_second = threading.Event()

    def emit(quotes):
        _ingest(batches)(quotes)
        if any(p == D("601.20") for _, p, _ in quotes):
            got_second.set()

    player = _play(market_side, stop, failures)
    AlpacaFeed(interval=0.05, refresh=0.1).run(emit, stop)
    player.join(10)

    assert failures == []
    assert [p for batch in batches for _, p, _ in batch] == [D("600.10"), D("601.20")]
    data_sockets = [r for r in alpaca.requests if r.path == "/v2/iex"]
    assert len(data_sockets) >= 2


def test_a_stale_stream_warns_once_refuses_market_orders_and_ticks_lift_it(
        alpaca, market, account, settings, time_machine):
    time_machine.move_to(SESSION, tick=True)
    settings.FEED_STALE_SECONDS = 2
    from orders.submission import order_submit

    ticks_ingest([("AAPL", D("100"), 1)], source="feed")  # the feed is fresh when the test starts

    batches: list = []
    stop, failures = threading.Event(), []
    stale_seen, resumed = threading.Event(), threading.Event()
    during: dict = {}
    feed = AlpacaFeed(interval=0.05, refresh=0.1)
    watch = feed._watch

    def watched(now):
        with committed():
            watch(now)
        if feed.warned and not stale_seen.is_set():
            during["market"] = order_submit(account=account, symbol="AAPL", side="BUY", quantity=D("1"))
            during["limit"] = order_submit(account=account, symbol="AAPL", side="BUY", quantity=D("1"),
                                           order_type="LIMIT", limit_price=D("99"))
            stale_seen.set()

    feed._watch = watched

    def market_side():
        assert stale_seen.wait(15)  # two seconds without a trade
        alpaca.wait_for_subscriptions(lambda s: "AAPL" in s)  # the resting limit order made AAPL matter
        alpaca.push_trade("AAPL", "100.20", 1)
        assert resumed.wait(10)

    def emit(quotes):
        _ingest(batches)(quotes)
        if stale_seen.is_set() and not resumed.is_set():
            during["after"] = order_submit(account=account, symbol="AAPL", side="BUY", quantity=D("1"))
            resumed.set()

    player = _play(market_side, stop, failures)
    feed.run(emit, stop)
    player.join(10)

    assert failures == []
    assert batches == [[("AAPL", D("100.20"), 1)]]
    market_order, limit_order = during["market"], during["limit"]
    assert (market_order.status, market_order.reject_code) == (Order.REJECTED, "stale_market_data")
    assert "No tick from the alpaca market feed for" in market_order.reject_reason
    assert limit_order.status == Order.ACCEPTED  # a limit order may still rest
    warnings = NotificationLog.objects.filter(account=account, event_type="risk_warning", channel="websocket")
    assert [w.title for w in warnings] == ["Market data is stale"]  # once for the spell, not per order or check
    after = during["after"]
    assert after.status == Order.FILLED and after.avg_fill_price >= D("100.20")  # ticks resumed: it trades


def test_feed_build_names_the_alpaca_feed(alpaca, settings):
    settings.MARKET_FEED_INTERVAL_SECONDS = D("0.5")
    feed = feed_build("alpaca")
    assert (feed.name, feed.interval, feed.refresh) == ("alpaca", 0.5, float(settings.MARKET_FEED_REFRESH_SECONDS))


def test_market_feed_alpaca_without_keys_refuses_to_start_naming_the_settings():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALPACA_", "MARKET_FEED"))
           and k not in {"DJANGO_SETTINGS_MODULE", "DEBUG"}}
    env.update({"ALPHALOOP_ENV_FILE": "/nonexistent", "DJANGO_SETTINGS_MODULE": "alphaloop.settings", "DEBUG": "true",
                "MARKET_FEED": "alpaca"})
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env, capture_output=True,
                            text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode != 0
    assert "MARKET_FEED=alpaca needs ALPACA_API_KEY and ALPACA_SECRET_KEY" in result.stderr
