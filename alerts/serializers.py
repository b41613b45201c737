from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from alerts.models import AlertHistory, PriceAlert
from orders.models import TradingPlan

THRESHOLD = {"max_digits": 20, "decimal_places": 6}


class AlertSerializer(serializers.ModelSerializer):
    direction = serializers.ChoiceField(choices=PriceAlert.DIRECTIONS, allow_blank=True, read_only=True)
    linked_plan_id = serializers.IntegerField(allow_null=True, read_only=True)
    description = serializers.CharField(source="describe", read_only=True)

    class Meta:
        model = PriceAlert
        fields = [
            "id", "account", "symbol", "condition_type", "threshold", "direction", "action", "linked_plan_id",
            "alert_status", "note", "expires_at", "triggered_at", "created_at", "updated_at", "description",
        ]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.INT)
class _UserPlanField(serializers.PrimaryKeyRelatedField):
    """A plan id of the requesting user; another user's plan reads as 'does not exist'."""

    def get_queryset(self):
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return TradingPlan.objects.none()
        return TradingPlan.objects.filter(account__user=user)


class AlertCreateSerializer(serializers.Serializer):
    account_id = serializers.IntegerField(required=False, help_text="Defaults to your first account.")
    symbol = serializers.CharField(max_length=32)
    condition_type = serializers.ChoiceField(choices=PriceAlert.CONDITIONS)
    threshold = serializers.DecimalField(**THRESHOLD, required=False, allow_null=True, default=None,
                                         help_text="Price, percent (5 = 5%) or RSI level; omit for macd_cross.")
    direction = serializers.ChoiceField(choices=PriceAlert.DIRECTIONS, required=False, allow_blank=True, default="",
                                        help_text="rsi_cross, macd_cross, pct_change: up or down; omit for either way")
    action = serializers.ChoiceField(choices=PriceAlert.ACTIONS, default=PriceAlert.NOTIFY)
    linked_plan_id = _UserPlanField(source="linked_plan", required=False, allow_null=True, default=None)
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class AlertUpdateSerializer(serializers.Serializer):
    threshold = serializers.DecimalField(**THRESHOLD, required=False)
    direction = serializers.ChoiceField(choices=PriceAlert.DIRECTIONS, required=False, allow_blank=True)
    action = serializers.ChoiceField(choices=PriceAlert.ACTIONS, required=False)
    linked_plan_id = _UserPlanField(source="linked_plan", required=False, allow_null=True)
    alert_status = serializers.ChoiceField(choices=PriceAlert.STATUSES, required=False,
                                           help_text="ACTIVE <-> PAUSED; ACTIVE re-arms a TRIGGERED or EXPIRED alert.")
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    note = serializers.CharField(max_length=255, required=False, allow_blank=True)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Nothing to change.")
        return attrs


class AlertListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=PriceAlert.STATUSES, required=False)
    account_id = serializers.IntegerField(required=False)


class AlertHistorySerializer(serializers.ModelSerializer):
    alert_id = serializers.IntegerField(read_only=True)
    condition_type = serializers.CharField(source="alert.condition_type", read_only=True)
    description = serializers.CharField(source="alert.describe", read_only=True)
    crossed = serializers.SerializerMethodField(
        help_text="Which way it fired: up or down (an RSI/MACD cross, a pct_change move); null for a price level"
    )

    class Meta:
        model = AlertHistory
        fields = [
            "id", "alert_id", "account", "symbol", "condition_type", "description", "crossed", "trigger_price",
            "trigger_time", "notification_sent", "action_taken", "detail", "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=PriceAlert.DIRECTIONS, allow_null=True))
    def get_crossed(self, history: AlertHistory) -> str | None:
        return (history.detail or {}).get("crossed")


class AlertHistoryQuerySerializer(serializers.Serializer):
    alert_id = serializers.IntegerField(required=False)
