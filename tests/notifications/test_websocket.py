"""/ws/trading with channels' WebsocketCommunicator against the real ASGI application."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from rest_framework_simplejwt.tokens import AccessToken

from alphaloop.asgi import application
from notifications.events import PRICES_GROUP, event_message, event_publish, user_group
from tests.waiting import CROSS_PROCESS_SECONDS, receive_until

ORIGIN, HOST = (b"origin", b"http://testserver"), (b"host", b"testserver")  # what a browser on the site sends
ws_db = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_layer():
    """Channel-layer state (groups, queued messages) never leaks from one test into the next."""
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    yield layer
    async_to_sync(layer.flush)()


def token_for(user) -> str:
    return str(AccessToken.for_user(user))


async def connect(path: str, *, origin=ORIGIN) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=[HOST, origin] if origin else [HOST])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


async def open_socket(user, query: str = "") -> WebsocketCommunicator:
    communicator = await connect(f"/ws/trading?token={token_for(user)}{query}")
    hello = await communicator.receive_json_from()
    assert (hello["channel"], hello["event"], hello["data"]["user_id"]) == ("system", "connected", user.pk)
    return communicator


async def closed_with(communicator: WebsocketCommunicator) -> int:
    message = await communicator.receive_output(timeout=1)
    assert message["type"] == "websocket.close"
    return message["code"]


publish = database_sync_to_async(event_publish)


# --- authentication -----------------------------------------------------------------


@ws_db
async def test_a_missing_token_closes_with_4401():
    communicator = await connect("/ws/trading")
    assert await closed_with(communicator) == 4401


@ws_db
async def test_a_forged_token_closes_with_4401():
    communicator = await connect("/ws/trading?token=eyJhbGciOiJIUzI1NiJ9.e30.forged")
    assert await closed_with(communicator) == 4401


@ws_db
async def test_an_expired_token_closes_with_4401(user):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    communicator = await connect(f"/ws/trading?token={token}")
    assert await closed_with(communicator) == 4401


@ws_db
async def test_a_deactivated_users_token_closes_with_4401(user):
    token = token_for(user)
    user.is_active = False
    await database_sync_to_async(user.save)()
    communicator = await connect(f"/ws/trading?token={token}")
    assert await closed_with(communicator) == 4401


@ws_db
async def test_a_ws_ticket_opens_one_socket_only(user):
    from alphaloop.ws_tickets import ws_ticket_issue

    ticket = await database_sync_to_async(ws_ticket_issue)(user=user)
    first = await connect(f"/ws/trading?token={ticket}")
    assert (await first.receive_json_from())["event"] == "connected"
    second = await connect(f"/ws/trading?token={ticket}")
    assert await closed_with(second) == 4401
    await first.disconnect()


@ws_db
async def test_a_foreign_origin_is_refused(user):
    communicator = WebsocketCommunicator(application, f"/ws/trading?token={token_for(user)}",
                                         headers=[HOST, (b"origin", b"http://evil.example")])
    connected, _ = await communicator.connect()
    assert connected is False


# --- delivery -------------------------------------------------------------------------


@ws_db
async def test_a_user_receives_their_events_and_never_another_users(user, other_user):
    mine, theirs = await open_socket(user), await open_socket(other_user)

    event = await publish(user_id=user.pk, channel="order_update", event="FILLED", data={"order_id": 5})

    message = await mine.receive_json_from()
    assert message == {"id": event.pk, "channel": "order_update", "event": "FILLED", "data": {"order_id": 5},
                       "timestamp": event.timestamp.isoformat()}
    assert await theirs.receive_nothing(timeout=0.2)
    await mine.disconnect()
    await theirs.disconnect()


@ws_db
async def test_every_tab_of_a_user_receives_the_event(user):
    tabs = [await open_socket(user) for _ in range(3)]

    await publish(user_id=user.pk, channel="equity_update", event="snapshot", data={"equity": "100000.00"})

    for tab in tabs:
        assert (await tab.receive_json_from())["data"] == {"equity": "100000.00"}
        await tab.disconnect()


@ws_db
async def test_subscribing_narrows_the_channels(user):
    socket = await open_socket(user)
    await socket.send_json_to({"action": "subscribe", "channels": ["order_update"]})
    assert (await socket.receive_json_from())["data"] == {"channels": ["order_update"], "symbols": []}

    await publish(user_id=user.pk, channel="price_alert", event="price_alert", data={})
    wanted = await publish(user_id=user.pk, channel="order_update", event="ACCEPTED", data={})

    assert (await socket.receive_json_from())["id"] == wanted.pk
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


@ws_db
async def test_price_ticks_arrive_only_for_subscribed_symbols(user, fresh_layer):
    socket = await open_socket(user)
    await socket.send_json_to({"action": "subscribe", "symbols": ["aapl"]})
    assert (await socket.receive_json_from())["data"]["symbols"] == ["AAPL"]

    ticks = [{"symbol": symbol, "price": price, "timestamp": "2026-11-23T15:30:00+00:00", "source": "t", "volume": 0}
             for symbol, price in (("MSFT", "410.5"), ("AAPL", "190.1"), ("NVDA", "120"))]
    await fresh_layer.group_send(PRICES_GROUP, {"type": "price.ticks", "ticks": ticks})

    message = await socket.receive_json_from()
    assert message == {"channel": "price", "event": "tick", "timestamp": "2026-11-23T15:30:00+00:00",
                       "data": {"symbol": "AAPL", "price": "190.1", "timestamp": "2026-11-23T15:30:00+00:00",
                                "source": "t", "volume": 0}}
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


@ws_db
async def test_bad_client_messages_get_an_error_and_the_socket_stays_open(user):
    socket = await open_socket(user)
    for bad in ('{"action": "subscribe", "channels": ["gossip"]}', "not json", '{"action": "dance"}',
                '{"action": "resume", "last_id": "x"}', '{"action": "subscribe", "symbols": "AAPL"}'):
        await socket.send_to(text_data=bad)
        reply = await socket.receive_json_from()
        assert (reply["channel"], reply["event"]) == ("system", "error") and reply["data"]["detail"]
    await socket.send_json_to({"action": "ping"})
    assert (await socket.receive_json_from())["event"] == "pong"
    await socket.disconnect()


@ws_db
async def test_a_heartbeat_arrives_every_ws_heartbeat_seconds(user, settings):
    settings.WS_HEARTBEAT_SECONDS = 1
    socket = await open_socket(user)

    beat = await socket.receive_json_from(timeout=2)

    assert (beat["channel"], beat["event"], beat["data"]) == ("system", "heartbeat", {"last_id": 0})
    await socket.disconnect()


@ws_db
async def test_the_heartbeat_carries_the_newest_event_id_the_socket_stands_at(user, other_user, settings):
    settings.WS_HEARTBEAT_SECONDS = 1
    older = await publish(user_id=user.pk, channel="order_update", event="FILLED", data={"n": 1})
    newest = await publish(user_id=user.pk, channel="price_alert", event="price_alert", data={"n": 2})
    await publish(user_id=other_user.pk, channel="order_update", event="FILLED", data={"n": 3})
    socket = await open_socket(user)

    first = await socket.receive_json_from(timeout=2)
    live = await publish(user_id=user.pk, channel="risk_warning", event="daily_loss_breaker", data={"n": 4})
    assert (await socket.receive_json_from())["id"] == live.pk
    second = await socket.receive_json_from(timeout=2)
    await socket.send_json_to({"action": "ping"})
    pong = await socket.receive_json_from()

    assert (first["event"], first["data"]) == ("heartbeat", {"last_id": newest.pk})  # not 0, not another user's
    assert (second["event"], second["data"]) == ("heartbeat", {"last_id": live.pk})
    assert (pong["event"], pong["data"]) == ("pong", {"last_id": live.pk})
    await socket.disconnect()

    resumed = await open_socket(user, f"&last_id={older.pk}")
    replayed = [(await resumed.receive_json_from())["id"] for _ in range(2)]
    assert replayed == [newest.pk, live.pk] and (await resumed.receive_json_from())["event"] == "resumed"
    assert (await resumed.receive_json_from(timeout=2))["data"] == {"last_id": live.pk}
    await resumed.disconnect()


# --- reconnect and replay ---------------------------------------------------------------


@ws_db
async def test_a_reconnecting_client_gets_what_it_missed_in_order_then_live_events(user):
    socket = await open_socket(user)
    seen = await publish(user_id=user.pk, channel="price_alert", event="price_alert", data={"n": 1})
    assert (await socket.receive_json_from())["id"] == seen.pk
    await socket.disconnect()

    missed = [await publish(user_id=user.pk, channel="order_update", event="FILLED", data={"n": n}) for n in (2, 3)]
    socket = await open_socket(user, f"&last_id={seen.pk}")

    assert [(await socket.receive_json_from())["id"] for _ in missed] == [m.pk for m in missed]
    resumed = await socket.receive_json_from()
    assert resumed["event"] == "resumed" and resumed["data"] == {
        "after": seen.pk, "count": 2, "truncated": False, "last_id": missed[-1].pk}
    live = await publish(user_id=user.pk, channel="risk_warning", event="daily_loss_breaker", data={"n": 4})
    assert (await socket.receive_json_from())["id"] == live.pk
    await socket.disconnect()


@ws_db
async def test_resume_as_a_message_replays_and_an_event_is_never_sent_twice(user, fresh_layer):
    stored = [await publish(user_id=user.pk, channel="price_alert", event="price_alert", data={"n": n}) for n in (1, 2)]
    socket = await open_socket(user)
    await socket.send_json_to({"action": "resume", "last_id": 0})
    assert [(await socket.receive_json_from())["id"] for _ in stored] == [e.pk for e in stored]
    assert (await socket.receive_json_from())["event"] == "resumed"

    # The same event arriving live as well (published while the replay ran) is dropped.
    await fresh_layer.group_send(user_group(user.pk), {"type": "live.event", "message": event_message(stored[1])})
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()


@ws_db
async def test_replay_never_includes_another_users_events(user, other_user):
    await publish(user_id=other_user.pk, channel="price_alert", event="price_alert", data={"secret": True})
    socket = await open_socket(user, "&last_id=0")

    resumed = await socket.receive_json_from()
    assert resumed["event"] == "resumed" and resumed["data"]["count"] == 0
    await socket.disconnect()


# --- end to end: tick -> alert -> socket ---------------------------------------------------


@ws_db
async def test_a_tick_fires_an_alert_that_reaches_the_owners_socket(user, other_user, instrument_factory):
    from alerts.services import alert_create
    from marketdata.pipeline import tick_ingest

    await database_sync_to_async(instrument_factory)("AAPL")
    account = await database_sync_to_async(lambda: user.accounts.get())()
    alert = await database_sync_to_async(alert_create)(
        account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal("190.10"))
    socket, stranger = await open_socket(user), await open_socket(other_user)
    await socket.send_json_to({"action": "subscribe", "symbols": ["AAPL"]})
    await socket.receive_json_from()

    await database_sync_to_async(tick_ingest)(symbol="AAPL", price=Decimal("190.10"), source="test")

    messages = [await socket.receive_json_from() for _ in range(3)]
    by_channel = {m["channel"]: m for m in messages}
    assert set(by_channel) == {"price", "price_alert", "notification"}
    assert by_channel["price"]["data"]["price"] == "190.100000"
    alert_message = by_channel["price_alert"]
    assert alert_message["event"] == "price_alert" and alert_message["data"]["alert_id"] == alert.pk
    assert alert_message["data"]["title"] == "Alert: AAPL at or above 190.1"
    assert by_channel["notification"]["event"] == "desktop"
    assert await stranger.receive_nothing(timeout=0.2)
    await socket.disconnect()
    await stranger.disconnect()


# --- across processes over Redis ------------------------------------------------------------

FEED_PROCESS = """
import django
django.setup()
from decimal import Decimal
from marketdata.pipeline import tick_ingest
tick_ingest(symbol="AAPL", price=Decimal("191.25"), source="feed-process")
"""


@pytest.mark.services
@ws_db
async def test_an_alert_fired_by_another_process_reaches_this_socket_over_redis(user, instrument_factory):
    """The feed process ingests a tick, fires the alert and publishes; this process holds the socket."""
    import asyncio
    import os
    import sys
    from pathlib import Path
    from urllib.parse import urlparse

    from django.db import connection

    from alerts.services import alert_create

    await database_sync_to_async(instrument_factory)("AAPL")
    account = await database_sync_to_async(lambda: user.accounts.get())()
    alert = await database_sync_to_async(alert_create)(
        account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal("191"))
    socket = await open_socket(user)
    await socket.send_json_to({"action": "subscribe", "symbols": ["AAPL"]})
    await socket.receive_json_from()
    test_db = urlparse(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"]).geturl()
    env = {**os.environ, "DATABASE_URL": test_db, "DJANGO_SETTINGS_MODULE": "alphaloop.test_settings"}

    feed = await asyncio.create_subprocess_exec(sys.executable, "-c", FEED_PROCESS, env=env,
                                                cwd=str(Path(__file__).resolve().parents[2]),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output, _ = await asyncio.wait_for(feed.communicate(), CROSS_PROCESS_SECONDS)
    assert feed.returncode == 0, output.decode()

    # The feed process takes a while to start on a busy machine (a heartbeat may come first): wait for
    # the tick, the alert and its notification, however long.
    wanted = {"price", "price_alert", "notification"}
    messages = await receive_until(socket.receive_json_from, lambda got: wanted <= {m["channel"] for m in got},
                                   what="the tick, the alert and its notification from the feed process")
    by_channel = {m["channel"]: m for m in messages}
    assert by_channel["price"]["data"]["source"] == "feed-process"
    assert by_channel["price_alert"]["data"]["alert_id"] == alert.pk
    assert by_channel["price_alert"]["data"]["price"] == "191.250000"
    assert by_channel["notification"]["event"] == "desktop"
    await socket.disconnect()


@pytest.mark.services
@ws_db
async def test_a_socket_idle_longer_than_the_layers_blocking_read_still_gets_the_next_event(user):
    """channels-redis waits for a message with a blocking read of ``brpop_timeout`` seconds; a Redis
    client whose own read timeout is no longer (redis-py's default is 5 s) gave up first and the
    socket's consumer died after 5 quiet seconds."""
    import asyncio

    socket = await open_socket(user)
    layer = get_channel_layer()
    # Quiet longer than one blocking read: what any socket without price subscriptions goes through.
    await asyncio.sleep(layer.brpop_timeout + 2)

    await publish(user_id=user.pk, channel="order_update", event="FILLED", data={"n": 1})
    message = await socket.receive_json_from(timeout=CROSS_PROCESS_SECONDS)

    assert (message["channel"], message["event"], message["data"]) == ("order_update", "FILLED", {"n": 1})
    await socket.disconnect()


@ws_db
async def test_the_connected_message_tells_a_fresh_client_where_history_ends(user, other_user):
    first = await publish(user_id=user.pk, channel="order_update", event="FILLED", data={"n": 1})
    await publish(user_id=other_user.pk, channel="order_update", event="FILLED", data={"n": 2})
    communicator = await connect(f"/ws/trading?token={token_for(user)}")
    hello = await communicator.receive_json_from()
    assert hello["data"]["latest_id"] == first.pk  # the user's own newest event, not another user's
    await communicator.disconnect()
