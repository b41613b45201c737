"""Short-lived, single-use WebSocket tickets.

A browser (session login) or a script (JWT) trades its credentials for a ticket valid for
``WS_TICKET_SECONDS`` and usable once, and connects with ``/ws/trading?token=<ticket>``:
long-lived tokens then never appear in URLs, proxy logs or browser history.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.cache import cache
from django.core.cache.backends.redis import RedisCache

PREFIX = "ws-ticket:"
TICKET_PREFIX = "wst_"


def ws_ticket_issue(*, user) -> str:
    ticket = TICKET_PREFIX + secrets.token_urlsafe(24)
    cache.set(PREFIX + ticket, user.pk, timeout=settings.WS_TICKET_SECONDS)
    return ticket


def ws_ticket_redeem(ticket: str) -> int | None:
    """The user id the ticket was issued to, once; None if unknown, expired or already used."""
    if not ticket.startswith(TICKET_PREFIX):
        return None
    key = PREFIX + ticket
    if isinstance(cache, RedisCache):
        # Redis: GETDEL makes redemption atomic across processes.
        full_key = cache.make_and_validate_key(key)
        raw = cache._cache.get_client(full_key, write=True).getdel(full_key)
        return None if raw is None else int(cache._cache._serializer.loads(raw))
    user_id = cache.get(key)
    if user_id is not None and cache.delete(key):
        return int(user_id)
    return None
