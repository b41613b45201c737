"""Waiting for another process (a worker, a server, a feed, Redis): poll for a condition, never sleep.

On a 2-core machine busy with other work, a child process can take many times longer to start or to
answer than on an idle one. So a cross-process test waits for the condition it needs, up to a
generous deadline (``CROSS_PROCESS_SECONDS``): a pass costs only the time the condition really
took, and the deadline only bounds how long a real failure takes to report.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

CROSS_PROCESS_SECONDS = 120.0


def wait_until(predicate: Callable[[], Any], *, timeout: float = CROSS_PROCESS_SECONDS, interval: float = 0.05,
               what: str = "the condition") -> Any:
    """Poll ``predicate`` until it returns something truthy and return that; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


async def receive_until(receive: Callable[..., Awaitable[Any]], done: Callable[[list], bool], *,
                        timeout: float = CROSS_PROCESS_SECONDS, what: str = "the messages") -> list:
    """Collect ``await receive(timeout=...)`` results until ``done(received)``; fail after ``timeout`` seconds.

    For a socket fed by another process: whatever arrives first, the test goes on as soon as what it
    needs is there.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    received: list = []
    while not done(received):
        remaining = deadline - loop.time()
        try:
            if remaining <= 0:
                raise TimeoutError
            received.append(await receive(timeout=remaining))
        except TimeoutError:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; received {received!r}") from None
    return received
