from datetime import date
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer

from alphaloop import bus
from alphaloop.events import PriceTicks, event_encode
from alphaloop.models import AuditLog
from alphaloop.tasks import event_deliver
from marketdata import pipeline
from marketdata.feeds import ReplayFeed, SyntheticFeed
from marketdata.models import Instrument, Quote
from tests.delivery import committed


@pytest.fixture
def listener_calls():
    """The ticks a background ``PriceTicks`` subscriber receives, in order."""
    calls = []
    bus.subscribe(PriceTicks, "test.recorder", lambda event: calls.extend(event.ticks), background=True)
    yield calls
    bus.unsubscribe(PriceTicks, "test.recorder")


@pytest.mark.django_db
def test_tick_ingest_stores_the_quote_dispatches_listeners_and_publishes_to_prices(instrument_factory, listener_calls):
    instrument_factory("AAPL")
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("prices", channel)

    with committed():
        pipeline.tick_ingest(symbol="AAPL", price=Decimal("187.1234567"), source="test")

    assert Quote.objects.get(instrument__symbol="AAPL").price == Decimal("187.123457")
    assert [(t.symbol, t.price) for t in listener_calls] == [("AAPL", Decimal("187.123457"))]
    message = async_to_sync(layer.receive)(channel)
    assert message["type"] == "price.ticks" and [t["symbol"] for t in message["ticks"]] == ["AAPL"]
    assert message["ticks"][0]["price"] == "187.123457"


def _ingest_committed(quotes):
    with committed():
        return pipeline.ticks_ingest(quotes, source="test")


@pytest.mark.django_db
def test_a_feed_batch_is_one_message_and_a_bad_tick_is_left_out(instrument_factory, listener_calls):
    instrument_factory("AAPL")
    instrument_factory("MSFT")
    layer = get_channel_layer()
    quotes = [("AAPL", Decimal("190.10"), 300), ("NOPE", Decimal("5"), 1), ("MSFT", Decimal("410.25"), 200),
              ("MSFT", Decimal("-1"), 1)]

    async def ingest_and_listen():  # one event loop: channels-redis keeps its receive state per loop
        channel = await layer.new_channel()
        await layer.group_add("prices", channel)
        ticks = await sync_to_async(_ingest_committed)(quotes)
        await layer.group_send("prices", {"type": "test.sentinel"})
        return ticks, [await layer.receive(channel), await layer.receive(channel)]

    ticks, (message, after) = async_to_sync(ingest_and_listen)()

    assert [(t.symbol, t.price) for t in ticks] == [("AAPL", Decimal("190.10")), ("MSFT", Decimal("410.25"))]
    assert [(t.symbol, t.volume) for t in listener_calls] == [("AAPL", 300), ("MSFT", 200)]
    assert dict(Quote.objects.values_list("instrument__symbol", "price")) == {"AAPL": Decimal("190.10"),
                                                                            "MSFT": Decimal("410.25")}
    assert [(t["symbol"], t["price"]) for t in message["ticks"]] == [("AAPL", "190.100000"), ("MSFT", "410.250000")]
    assert after["type"] == "test.sentinel"  # the whole batch was that one message


@pytest.mark.django_db
def test_a_failing_subscriber_does_not_stop_the_others(instrument_factory, listener_calls):
    instrument_factory("AAPL")

    def broken(event):
        raise RuntimeError("boom")

    bus.subscribe(PriceTicks, "test.broken", broken, background=True)
    try:
        tick = pipeline.quote_store(symbol="AAPL", price=Decimal("10"))
        outcome = event_deliver(event_encode(PriceTicks(ticks=(tick,))))
    finally:
        bus.unsubscribe(PriceTicks, "test.broken")
    assert outcome["test.broken"] == "error: RuntimeError: boom" and outcome["test.recorder"] == "ok"
    assert listener_calls == [tick]


@pytest.mark.django_db
def test_unknown_symbol_and_bad_price_are_refused(instrument_factory):
    with pytest.raises(pipeline.UnknownSymbol):
        pipeline.quote_store(symbol="NOPE", price=Decimal("1"))
    instrument_factory("AAPL")
    with pytest.raises(ValueError):
        pipeline.quote_store(symbol="AAPL", price=Decimal("0"))
    assert not Quote.objects.exists()


@pytest.mark.django_db
def test_paper_quote_api_injects_a_tick_for_staff_only(staff_api, api, instrument_factory, listener_calls):
    instrument_factory("AAPL")
    assert api.post("/api/v1/market/quotes", {"symbol": "AAPL", "price": "190"}, format="json").status_code == 403
    with committed():
        response = staff_api.post("/api/v1/market/quotes", {"symbol": "aapl", "price": "190.5"}, format="json")
    assert response.status_code == 201 and response.data["price"] == "190.500000"
    assert listener_calls[0].source == "paper_api"
    assert AuditLog.objects.filter(action="market.quote_inject", resource="quote:AAPL").count() == 1
    assert api.get("/api/v1/market/quotes/AAPL").data["price"] == "190.500000"
    assert api.get("/api/v1/market/quotes/MSFT").status_code == 404


@pytest.mark.django_db
def test_paper_quote_api_names_the_bad_field(staff_api, instrument_factory, settings):
    instrument_factory("AAPL")
    assert "symbol" in staff_api.post("/api/v1/market/quotes", {"symbol": "ZZZZ", "price": "1"}, format="json").data
    assert "price" in staff_api.post("/api/v1/market/quotes", {"symbol": "AAPL", "price": "-1"}, format="json").data
    assert "price" in staff_api.post("/api/v1/market/quotes", {"symbol": "AAPL", "price": "NaN"}, format="json").data
    settings.ORDER_MODE = "REAL"
    assert staff_api.post("/api/v1/market/quotes", {"symbol": "AAPL", "price": "1"}, format="json").status_code == 403


@pytest.mark.django_db
def test_synthetic_feed_is_seeded_and_walks_from_the_last_close(bars_factory):
    from datetime import datetime, timezone

    bars_factory("AAPL", [100 + i * 0.5 for i in range(30)])
    in_session = lambda: datetime(2026, 11, 24, 15, 0, tzinfo=timezone.utc)  # noqa: E731  (10:00 ET)
    first = SyntheticFeed(symbols=["AAPL"], interval=60, seed=7, clock=in_session).batch()
    again = SyntheticFeed(symbols=["AAPL"], interval=60, seed=7, clock=in_session).batch()
    assert first == again
    (symbol, price, volume), = first
    assert symbol == "AAPL" and abs(price - Decimal("114.5")) < Decimal("1") and volume > 0


@pytest.mark.django_db
def test_replay_feed_walks_each_bar_open_low_high_close_on_up_days(instrument_factory):
    from marketdata.models import Bar

    inst = instrument_factory("AAPL")
    Bar.objects.create(instrument=inst, date=date(2026, 11, 20), open=10, high=12, low=9, close=11, volume=400)
    Bar.objects.create(instrument=inst, date=date(2026, 11, 23), open=11, high=11.5, low=10, close=10.5, volume=800)
    feed = ReplayFeed(start=date(2026, 11, 1), speed=23400)
    prices = [feed.batch()[0][1] for _ in range(9)]
    assert prices == [10, 9, 12, 11, 11, 11.5, 10, 10.5, 10]
    assert feed.interval == pytest.approx(0.25)


@pytest.mark.django_db
def test_seed_demo_writes_a_synthetic_universe_with_spy():
    from django.core.management import call_command

    from marketdata.models import Bar, FundamentalSnapshot

    call_command("seed_demo", stdout=open("/dev/null", "w"))
    assert Instrument.objects.count() == 21 and Instrument.objects.filter(is_synthetic=False).count() == 0
    spy_bars = Bar.objects.filter(instrument__symbol="SPY").count()
    assert spy_bars >= 3 * 252
    assert Bar.objects.count() == 21 * spy_bars
    assert FundamentalSnapshot.objects.filter(instrument__symbol="AAPL").count() >= 12
    assert Quote.objects.count() == 21
