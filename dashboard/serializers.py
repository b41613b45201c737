from rest_framework import serializers

MONEY = {"max_digits": 20, "decimal_places": 2}


class DashboardExposureSerializer(serializers.Serializer):
    delta_pct = serializers.DecimalField(max_digits=12, decimal_places=4)
    gamma_pct = serializers.DecimalField(max_digits=12, decimal_places=4)
    vega_pct = serializers.DecimalField(max_digits=12, decimal_places=4)
    theta_pct = serializers.DecimalField(max_digits=12, decimal_places=4)
    delta_dollars = serializers.DecimalField(**MONEY)
    gamma_dollars = serializers.DecimalField(**MONEY)
    vega_dollars = serializers.DecimalField(**MONEY)
    theta_dollars = serializers.DecimalField(**MONEY)


class RecentSignalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    symbol = serializers.CharField()
    as_of = serializers.DateField()
    direction = serializers.CharField()
    strength = serializers.DecimalField(max_digits=6, decimal_places=4)
    win_rate = serializers.DecimalField(max_digits=6, decimal_places=4, allow_null=True)
    rr_ratio = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True)
    sample_size = serializers.IntegerField()


class RecentAlertSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    alert_id = serializers.IntegerField()
    symbol = serializers.CharField()
    trigger_price = serializers.DecimalField(max_digits=20, decimal_places=6)
    trigger_time = serializers.DateTimeField()
    action_taken = serializers.CharField(allow_null=True)


class PendingActionSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["breaker", "approval", "plan", "order", "journal"])
    id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.CharField()


class PositionSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    asset_type = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=20, decimal_places=6)
    avg_cost = serializers.DecimalField(max_digits=20, decimal_places=6)
    price = serializers.DecimalField(max_digits=20, decimal_places=6)
    market_value = serializers.DecimalField(**MONEY)
    unrealized_pnl = serializers.DecimalField(**MONEY)


class DashboardSummarySerializer(serializers.Serializer):
    account_id = serializers.IntegerField()
    account_code = serializers.CharField()
    as_of = serializers.DateTimeField()
    total_equity = serializers.DecimalField(**MONEY)
    cash = serializers.DecimalField(**MONEY)
    market_value = serializers.DecimalField(**MONEY)
    unrealized_pnl = serializers.DecimalField(**MONEY)
    daily_pnl = serializers.DecimalField(**MONEY)
    daily_return_pct = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    mtd_return_pct = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    ytd_return_pct = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)
    plan_execution_rate = serializers.DecimalField(max_digits=6, decimal_places=4, allow_null=True)
    active_plans_count = serializers.IntegerField()
    risk_level = serializers.ChoiceField(choices=["LOW", "MEDIUM", "HIGH", "CRITICAL"])
    risk_reasons = serializers.ListField(child=serializers.CharField())
    exposure = DashboardExposureSerializer()
    recent_signals = RecentSignalSerializer(many=True)
    recent_alerts = RecentAlertSerializer(many=True)
    pending_actions = PendingActionSerializer(many=True)
    positions = PositionSerializer(many=True)
