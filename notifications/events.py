"""Live events to a user's WebSocket group, stored first so a reconnecting client can catch up.

Any process (web, Celery worker, feed) calls ``event_publish``; over channels-redis the event
reaches sockets held by other processes. A channel-layer outage is logged, never raised: the
event is already stored and is replayed when the client reconnects.
"""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from notifications.models import LiveEvent

logger = logging.getLogger(__name__)

CHANNELS = ("price_alert", "signal_fired", "order_update", "risk_warning", "equity_update", "notification")
PRICES_GROUP = "prices"


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


def group_send_safely(group: str, message: dict[str, Any]) -> bool:
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        async_to_sync(layer.group_send)(group, message)
        return True
    except Exception as exc:  # Redis down, capacity exceeded: the socket side is degraded, not the caller
        logger.warning("channel layer unavailable, event to %s not pushed live: %s", group, exc)
        return False


def event_deliver(*, user_id: int, channel: str, event: str, data: dict[str, Any]) -> tuple[LiveEvent, bool]:
    """Store the event, push it to the user's group; also says whether the live push worked."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown live channel {channel!r}")
    row = LiveEvent.objects.create(
        user_id=user_id, channel=channel, event=event, data=_json_safe(data), timestamp=timezone.now()
    )
    pushed = group_send_safely(user_group(user_id), {"type": "live.event", "message": event_message(row)})
    return row, pushed


def event_publish(*, user_id: int, channel: str, event: str, data: dict[str, Any]) -> LiveEvent:
    return event_deliver(user_id=user_id, channel=channel, event=event, data=data)[0]
