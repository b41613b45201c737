from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from notifications.models import LiveEvent, NotificationLog
from notifications.selectors import CHANNELS, EVENT_TYPES, REPLAY_LIMIT


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationLog
        fields = ["id", "account", "channel", "event_type", "title", "body", "status", "error", "created_at"]
        read_only_fields = fields


class NotificationListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=NotificationLog.STATUSES, required=False)
    channel = serializers.ChoiceField(choices=NotificationLog.CHANNELS, required=False)


class ReadAllResultSerializer(serializers.Serializer):
    updated = serializers.IntegerField()


class PreferenceSerializer(serializers.Serializer):
    channels = serializers.ListField(child=serializers.ChoiceField(choices=CHANNELS))
    is_default = serializers.BooleanField()


class PreferencesSerializer(serializers.Serializer):
    preferences = serializers.DictField(child=PreferenceSerializer(), help_text=f"Keys: {', '.join(EVENT_TYPES)}")


@extend_schema_field({
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {
        event_type: {"type": "array", "maxItems": len(CHANNELS), "items": {"type": "string", "enum": list(CHANNELS)}}
        for event_type in EVENT_TYPES
    },
})
class _PreferencesField(serializers.DictField):
    """Event type -> channels; the schema names the event types and channels the service accepts."""


class PreferencesUpdateSerializer(serializers.Serializer):
    preferences = _PreferencesField(
        child=serializers.ListField(child=serializers.CharField(max_length=16), max_length=len(CHANNELS)),
        allow_empty=False,
        help_text="event type -> channels, e.g. {\"price_alert\": [\"websocket\", \"telegram\"]}; [] silences it.",
    )


class LiveEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = LiveEvent
        fields = ["id", "channel", "event", "data", "timestamp"]
        read_only_fields = fields


class EventsQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=REPLAY_LIMIT, default=100)


class EventsResultSerializer(serializers.Serializer):
    events = LiveEventSerializer(many=True)
    last_id = serializers.IntegerField()
    has_more = serializers.BooleanField()


class TelegramUpdateSerializer(serializers.Serializer):
    """The part of a Bot API ``Update`` that is read; everything else is ignored."""

    update_id = serializers.IntegerField()
    message = serializers.DictField(required=False)
    edited_message = serializers.DictField(required=False)


class TelegramWebhookResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    handled = serializers.BooleanField()
