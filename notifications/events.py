"""Live events to a user's WebSocket group, stored first so a reconnecting client can catch up.

Any process (web, Celery worker, feed) calls ``event_publish``; over channels-redis the event
reaches sockets held by other processes. A channel-layer outage is logged, never raised: the
event is already stored and is replayed when the client reconnects.

Callers publish from request threads (some inside a transaction holding a row lock), so a live
push is bounded: it gives up after ``LIVE_PUSH_TIMEOUT_SECONDS`` (default 2), and once the layer
has failed to connect, pushes are skipped for ``LIVE_PUSH_RETRY_SECONDS`` (default 5) before the
next attempt. While Redis is down the REST API keeps its normal latency, the log gets one line
per outage rather than one per event, and pushes resume by themselves within the retry period
of Redis coming back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from alphaloop.circuit import Circuit
from alphaloop.versions import user_version, version_bump
from notifications.models import LiveEvent

logger = logging.getLogger(__name__)

CHANNELS = ("price_alert", "signal_fired", "order_update", "risk_warning", "equity_update", "notification")
PRICES_GROUP = "prices"
# The layer's backend cannot be reached (OSError includes the TimeoutError of the bounded wait),
# as opposed to a problem with one message.
OUTAGE_ERRORS = (OSError, RedisConnectionError, RedisTimeoutError)


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def event_message(event: LiveEvent) -> dict[str, Any]:
    """The wire format of spec 3.6: {id, channel, event, data, timestamp}."""
    return {
        "id": event.pk,
        "channel": event.channel,
        "event": event.event,
        "data": event.data,
        "timestamp": event.timestamp.isoformat(),
    }


layer_circuit = Circuit()


async def _group_send_bounded(layer, group: str, message: dict[str, Any], timeout: float) -> None:
    await asyncio.wait_for(layer.group_send(group, message), timeout)


def group_send_safely(group: str, message: dict[str, Any]) -> bool:
    """Push to a group; False (logged, never raised) when the layer is missing, down or refuses."""
    layer = get_channel_layer()
    if layer is None or not layer_circuit.allows():
        return False
    timeout = float(settings.LIVE_PUSH_TIMEOUT_SECONDS)
    try:
        async_to_sync(_group_send_bounded)(layer, group, message, timeout)
    except OUTAGE_ERRORS as exc:
        retry = float(settings.LIVE_PUSH_RETRY_SECONDS)
        if layer_circuit.failed(retry):
            logger.warning("channel layer unavailable (%s): live pushes paused, retrying every %gs; "
                           "events stay stored for replay", exc or type(exc).__name__, retry)
        return False
    except Exception as exc:  # e.g. a message the layer refuses: this push fails, the layer is fine
        logger.warning("channel layer refused the event to %s: %s", group, exc)
        return False
    if layer_circuit.succeeded():
        logger.info("channel layer available again: live pushes resumed")
    return True


def event_deliver(*, user_id: int, channel: str, event: str, data: dict[str, Any]) -> tuple[LiveEvent, bool]:
    """Store the event, push it to the user's group; also says whether the live push worked."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown live channel {channel!r}")
    row = LiveEvent.objects.create(
        user_id=user_id, channel=channel, event=event, data=_json_safe(data), timestamp=timezone.now()
    )
    version_bump(user_version(user_id))
    pushed = group_send_safely(user_group(user_id), {"type": "live.event", "message": event_message(row)})
    return row, pushed


def event_publish(*, user_id: int, channel: str, event: str, data: dict[str, Any]) -> LiveEvent:
    return event_deliver(user_id=user_id, channel=channel, event=event, data=data)[0]
