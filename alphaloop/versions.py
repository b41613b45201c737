"""Version stamps in the shared cache, for caches that must never serve a read older than a write.

A cached read is keyed by the stamps of what it depends on (``version_get``); every write bumps
the stamps it touches once its transaction commits (``version_bump``), so the next read misses
and recomputes. The stamp in use: ``user:<id>``, anything a user's own actions or events change,
bumped by every audit row and live event of the user.

The cache is optional: when it fails (Redis down), ``version_get`` answers None (the caller
computes without caching), and the cache is left alone for ``CACHE_RETRY_SECONDS`` so a dead
Redis costs one timeout, not one per request. A bump lost in an outage cannot serve stale data
for long: cached reads also expire on their own (seconds).
"""

from __future__ import annotations

import logging
import secrets

from django.core.cache import cache
from django.db import transaction

from alphaloop.circuit import Circuit

logger = logging.getLogger(__name__)

CACHE_RETRY_SECONDS = 5.0
cache_circuit = Circuit()


def user_version(user_id: int) -> str:
    return f"user:{user_id}"


def _key(name: str) -> str:
    return f"version:{name}"


def _failed(exc: Exception) -> None:
    if cache_circuit.failed(CACHE_RETRY_SECONDS):
        logger.warning("cache unavailable (%s): cached reads off for %gs at a time", exc, CACHE_RETRY_SECONDS)


def cache_call(function, *args, **kwargs):
    """Run a cache operation; None (and the circuit opened) when the cache fails."""
    if not cache_circuit.allows():
        return None
    try:
        result = function(*args, **kwargs)
    except Exception as exc:  # the cache backend's connection errors have no common base class
        _failed(exc)
        return None
    if cache_circuit.succeeded():
        logger.info("cache available again")
    return result


def version_get(*names: str) -> str | None:
    """One string of the current stamps of ``names`` (a cache-key part); None when the cache is down."""
    stamps = cache_call(cache.get_many, [_key(name) for name in names])
    if stamps is None:
        return None
    return ".".join(str(stamps.get(_key(name), "0")) for name in names)


def _stamp(name: str) -> None:
    cache_call(cache.set, _key(name), secrets.token_hex(6), None)


def version_bump(name: str) -> None:
    """Give ``name`` a new stamp now and again when the current transaction commits.

    The second stamp retires anything a concurrent reader computed and cached between the two,
    before the write was visible; the first makes the write's own transaction (and a test's
    never-committed one) read fresh.
    """
    _stamp(name)
    transaction.on_commit(lambda: _stamp(name))
