"""A circuit breaker for an optional backing service (the channel layer, the shared cache).

After a failure the caller skips the service for a while instead of waiting on its timeout
on every request; the first call after the pause tries again, and a success closes it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Circuit:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._lock = threading.Lock()
        self._retry_at = 0.0
        self.open = False

    def allows(self) -> bool:
        return not self.open or self.clock() >= self._retry_at

    def failed(self, retry_seconds: float) -> bool:
        """Open (or keep open) the circuit; True when this failure starts an outage."""
        with self._lock:
            started = not self.open
            self.open, self._retry_at = True, self.clock() + retry_seconds
            return started

    def succeeded(self) -> bool:
        """Close the circuit; True when this success ends an outage."""
        with self._lock:
            ended, self.open = self.open, False
            return ended
