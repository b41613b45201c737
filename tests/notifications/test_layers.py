"""The thread-safe in-memory layer wakes a waiting consumer at once when another thread sends."""

from __future__ import annotations

import asyncio
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer

from notifications.layers import ThreadSafeInMemoryChannelLayer


async def seconds_until_received(layer: InMemoryChannelLayer, *, other_wakeup_after: float | None = None) -> float:
    """A consumer waits on the layer; a plain thread (like the market feed) group_sends to it."""
    channel = await layer.new_channel()
    await layer.group_add("prices", channel)
    waiting = asyncio.create_task(layer.receive(channel))
    if other_wakeup_after is not None:
        asyncio.get_running_loop().call_later(other_wakeup_after, lambda: None)
    sent_at: list[float] = []

    def feed() -> None:
        time.sleep(0.1)  # the event loop is parked in select by now
        sent_at.append(time.perf_counter())
        # async_to_sync made inside the thread, as the feed does: the send runs on a loop of its own.
        async_to_sync(layer.group_send)("prices", {"type": "price.tick", "n": 1})

    thread = threading.Thread(target=feed)
    thread.start()
    message = await asyncio.wait_for(waiting, timeout=5)
    received_at = time.perf_counter()
    await asyncio.to_thread(thread.join)
    assert message == {"type": "price.tick", "n": 1}
    return received_at - sent_at[0]


async def test_a_send_from_another_thread_is_delivered_at_once():
    assert await seconds_until_received(ThreadSafeInMemoryChannelLayer()) < 0.2


async def test_the_stock_layer_waits_for_the_loop_to_wake_for_another_reason():
    # Why the class exists: the message waits until something else (here a timer at 0.6 s) wakes the loop.
    assert await seconds_until_received(InMemoryChannelLayer(), other_wakeup_after=0.6) >= 0.3


async def test_sends_on_the_receivers_own_loop_are_unchanged():
    layer = ThreadSafeInMemoryChannelLayer()
    channel = await layer.new_channel()
    waiting = asyncio.create_task(layer.receive(channel))
    await asyncio.sleep(0)
    await layer.send(channel, {"type": "live.event"})
    assert await asyncio.wait_for(waiting, timeout=1) == {"type": "live.event"}
