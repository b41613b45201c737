"""``/ws/trading``: authenticate, join/leave groups, relay. Nothing else happens here.

Every message is ``{channel, event, data, timestamp}``; user events also carry their ``id``
(monotonic, from ``LiveEvent``). A user has one group, ``user.<id>``, joined by every socket
they open (several tabs are fine). Client messages:

- ``{"action": "subscribe", "channels": [...], "symbols": [...]}``: which user channels to
  relay (all by default) and which symbols' price ticks (none by default);
- ``{"action": "resume", "last_id": N}`` (or ``?last_id=N`` on connect): replay the stored
  events with id > N in order, then continue live; an event both replayed and received live
  is sent once;
- ``{"action": "ping"}``.

The server sends ``system`` messages: ``connected``, ``subscribed``, ``resumed``, ``pong``,
``heartbeat`` (every ``WS_HEARTBEAT_SECONDS``) and ``error``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from alphaloop.contract import MalformedJSON, json_loads
from notifications.events import CHANNELS, PRICES_GROUP, event_message, user_group
from notifications.selectors import REPLAY_LIMIT, live_event_latest_id, live_events_after
from notifications.ws_auth import query_param

logger = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_INTERNAL_ERROR = 1011
MAX_SYMBOLS = 500
SYMBOL_LENGTH = 32


MAX_EVENT_ID = 2**63 - 1


def _event_id(raw: Any) -> int | None:
    """An event id as a client sends it: a JSON integer, or digits (``?last_id=`` on connect), within 0..2**63-1."""
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 19:
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_EVENT_ID:
        return None
    return raw


class TradingConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.user = self.scope.get("user")
        self.subscribed_channels: set[str] = set(CHANNELS)
        self.symbols: set[str] = set()
        self.joined: set[str] = set()
        self.replayed_ids: set[int] = set()
        self.last_id = 0
        self.heartbeat: asyncio.Task | None = None
        # Accept first so the browser sees the 4401 close code, not a bare handshake failure.
        await self.accept()
        if self.user is None or not self.user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHORIZED)
            return
        try:
            await self._join(user_group(self.user.pk))
        except Exception:
            logger.exception("websocket: joining the group of user %s failed", self.user.pk)
            await self.close(code=CLOSE_INTERNAL_ERROR)
            return
        self.heartbeat = asyncio.create_task(self._heartbeat(settings.WS_HEARTBEAT_SECONDS))
        latest_id = await database_sync_to_async(live_event_latest_id)(user_id=self.user.pk)
        # A fresh client starts from latest_id; a reconnecting one resumes from the last id it saw.
        # ``last_id`` (in every heartbeat and pong) is where this socket's stream stands: the newest
        # event at connect for a fresh client, the id it resumes after for a reconnecting one, then
        # each event it is sent.
        last_id = query_param(self.scope, "last_id")
        resume_after = _event_id(last_id) if last_id is not None else None
        self.last_id = latest_id if resume_after is None else resume_after
        await self._system("connected", {"user_id": self.user.pk, "channels": sorted(self.subscribed_channels),
                                          "heartbeat_seconds": settings.WS_HEARTBEAT_SECONDS, "latest_id": latest_id})
        if last_id is not None:
            await self._resume(last_id)

    async def disconnect(self, code: int) -> None:
        if self.heartbeat is not None:
            self.heartbeat.cancel()
        for group in list(getattr(self, "joined", ())):
            await self._leave(group)

    # --- from the client ----------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        if text_data is None:
            await self._error("Send JSON text frames.")
            return
        try:
            content = json_loads(text_data)
        except MalformedJSON as exc:
            await self._error(str(exc))
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs) -> None:
        action = content.get("action") if isinstance(content, dict) else None
        if action == "subscribe":
            await self._subscribe(content)
        elif action == "resume":
            await self._resume(content.get("last_id"))
        elif action == "ping":
            await self._system("pong", {"last_id": self.last_id})
        else:
            await self._error("Unknown action; use subscribe, resume or ping.", action=action)

    async def _subscribe(self, content: dict) -> None:
        channels, symbols = content.get("channels"), content.get("symbols")
        if channels is not None:
            if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
                await self._error("channels must be a list of channel names.")
                return
            if unknown := sorted(set(channels) - set(CHANNELS)):
                await self._error(f"Unknown channels: {', '.join(unknown)}.", known=list(CHANNELS))
                return
        if symbols is not None:
            if not isinstance(symbols, list) or not all(isinstance(s, str) and 0 < len(s.strip()) <= SYMBOL_LENGTH for s in symbols):
                await self._error("symbols must be a list of ticker symbols.")
                return
            if len(symbols) > MAX_SYMBOLS:
                await self._error(f"At most {MAX_SYMBOLS} symbols.")
                return
        if channels is not None:
            self.subscribed_channels = set(channels)
        if symbols is not None:
            self.symbols = {s.strip().upper() for s in symbols}
            try:
                if self.symbols and PRICES_GROUP not in self.joined:
                    await self._join(PRICES_GROUP)
                elif not self.symbols and PRICES_GROUP in self.joined:
                    await self._leave(PRICES_GROUP)
            except Exception:
                logger.exception("websocket: price subscription of user %s failed", self.user.pk)
                await self._error("Price subscription failed; try again.")
                return
        await self._system("subscribed", {"channels": sorted(self.subscribed_channels), "symbols": sorted(self.symbols)})

    async def _resume(self, raw_last_id: Any) -> None:
        after = _event_id(raw_last_id)
        if after is None:
            await self._error("last_id must be a non-negative integer (an event id).")
            return
        try:
            events = await database_sync_to_async(live_events_after)(
                user_id=self.user.pk, after=after, limit=REPLAY_LIMIT + 1, channels=self.subscribed_channels
            )
        except Exception:
            logger.exception("websocket: replay after %s for user %s failed", after, self.user.pk)
            await self._error("Replay failed; fetch GET /api/v1/notifications/events?after=N instead.")
            return
        truncated = len(events) > REPLAY_LIMIT
        events = events[:REPLAY_LIMIT]
        self.replayed_ids = set()
        for event in events:
            await self.send_json(event_message(event))
            self.replayed_ids.add(event.pk)
            self.last_id = max(self.last_id, event.pk)
        await self._system("resumed", {"after": after, "count": len(events), "truncated": truncated, "last_id": self.last_id})

    # --- from the channel layer -----------------------------------------------

    async def live_event(self, event: dict) -> None:
        message = event["message"]
        if message["id"] in self.replayed_ids:
            self.replayed_ids.discard(message["id"])
            return
        if message["channel"] not in self.subscribed_channels:
            return
        await self.send_json(message)
        self.last_id = max(self.last_id, message["id"])

    async def dispatch(self, message: dict) -> None:
        # Channels hops to the shared sync thread before every message to close stale database
        # connections; price ticks touch no database, and with hundreds of sockets that hop per
        # socket per tick batch was most of the delivery latency.
        if message.get("type") == "price.ticks":
            await self.price_ticks(message)
        else:
            await super().dispatch(message)

    async def price_ticks(self, event: dict) -> None:
        """A feed's batch: one frame per tick of a subscribed symbol."""
        for tick in event["ticks"]:
            if tick.get("symbol") in self.symbols:
                await self.send_json({"channel": "price", "event": "tick", "data": tick, "timestamp": tick.get("timestamp")})

    # --- helpers ------------------------------------------------------------------

    async def _join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.add(group)

    async def _leave(self, group: str) -> None:
        try:
            await self.channel_layer.group_discard(group, self.channel_name)
        except Exception:  # the group entry expires on its own; log and carry on
            logger.exception("websocket: leaving group %s failed", group)
        self.joined.discard(group)

    async def _heartbeat(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self._system("heartbeat", {"last_id": self.last_id})
            except Exception:
                logger.exception("websocket: heartbeat to user %s failed; stopping it", self.user.pk)
                return

    async def _system(self, event: str, data: dict) -> None:
        await self.send_json({"channel": "system", "event": event, "data": data, "timestamp": timezone.now().isoformat()})

    async def _error(self, detail: str, **extra: Any) -> None:
        await self._system("error", {"detail": detail, **extra})
