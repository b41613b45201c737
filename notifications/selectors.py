"""Reads: notification logs, channel preferences, live events for catch-up."""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet

from alphaloop.scoping import owned_by
from notifications.models import LiveEvent, NotificationLog, NotificationPreference

# The event types other apps notify about; a preference can be set for each.
EVENT_TYPES: tuple[str, ...] = (
    "order_filled",
    "order_rejected",
    "risk_warning",
    "approval_requested",
    "price_alert",
    "signal_fired",
    "equity_update",
    "journal_draft",
)
CHANNELS: tuple[str, ...] = tuple(choice for choice, _ in NotificationLog.CHANNELS)
REPLAY_LIMIT = 1000


def default_channels() -> list[str]:
    """Without a preference: the socket and a desktop notification, plus Telegram when a bot is set up."""
    chosen = {NotificationLog.WEBSOCKET, NotificationLog.DESKTOP}
    if settings.TELEGRAM_BOT_TOKEN:
        chosen.add(NotificationLog.TELEGRAM)
    return [channel for channel in CHANNELS if channel in chosen]


def notification_channels_for(*, user, event_type: str) -> list[str]:
    preference = NotificationPreference.objects.filter(user=user, event_type=event_type).only("channels").first()
    if preference is None:
        return default_channels()
    return [channel for channel in CHANNELS if channel in preference.channels]


def notification_preferences_get(*, user) -> dict[str, dict]:
    """Every known event type with its channels and whether that is the default."""
    stored = {p.event_type: p.channels for p in NotificationPreference.objects.filter(user=user)}
    defaults = default_channels()
    return {
        event_type: {
            "channels": [c for c in CHANNELS if c in stored[event_type]] if event_type in stored else defaults,
            "is_default": event_type not in stored,
        }
        for event_type in EVENT_TYPES
    }


def notifications_list(*, user, status: str | None = None, channel: str | None = None) -> QuerySet[NotificationLog]:
    queryset = owned_by(NotificationLog.objects.all(), user)
    if status:
        queryset = queryset.filter(status=status)
    if channel:
        queryset = queryset.filter(channel=channel)
    return queryset.order_by("-created_at", "-id")


def live_events_after(*, user_id: int, after: int, limit: int = REPLAY_LIMIT, channels=None) -> list[LiveEvent]:
    """The user's events with id > ``after``, oldest first, at most ``limit``."""
    queryset = LiveEvent.objects.filter(user_id=user_id, id__gt=after)
    if channels is not None:
        queryset = queryset.filter(channel__in=list(channels))
    return list(queryset.order_by("id")[:limit])


def live_event_latest_id(*, user_id: int) -> int:
    """The id of the user's newest live event (0 when none): where a fresh client starts."""
    return LiveEvent.objects.filter(user_id=user_id).order_by("-id").values_list("id", flat=True).first() or 0
