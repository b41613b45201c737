"""An in-memory channel layer that other threads may send to (the embedded default).

On the embedded default one process runs Daphne, the market feed thread and the beat thread.
The stock ``InMemoryChannelLayer`` keeps asyncio queues that belong to Daphne's event loop; a
``group_send`` from the feed thread (``async_to_sync`` runs it on a loop of its own) wakes the
waiting consumer without waking Daphne's loop, so the message sits there until the loop wakes
for another reason: up to a second later (measured: 80-920 ms per tick). This layer remembers
the loop its receivers run on and hands sends from any other loop over to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import InMemoryChannelLayer


class ThreadSafeInMemoryChannelLayer(InMemoryChannelLayer):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._receiver_loop: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel: str) -> dict:
        self._receiver_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel: str, message: dict) -> None:
        await self._on_receiver_loop(super().send, channel, message)

    async def group_send(self, group: str, message: dict) -> None:
        await self._on_receiver_loop(super().group_send, group, message)

    async def _on_receiver_loop(self, method: Callable[..., Awaitable[None]], *args: Any) -> None:
        loop = self._receiver_loop
        if loop is None or loop is asyncio.get_running_loop() or loop.is_closed() or not loop.is_running():
            await method(*args)
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(method(*args), loop))
