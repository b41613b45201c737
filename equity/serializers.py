"""Input and output serializers of the equity API (spec 3.2)."""

from __future__ import annotations

from rest_framework import serializers

from equity.models import EquitySnapshot
from equity.selectors import GROUPS
from marketdata import calendar

RATIO = {"max_digits": 10, "decimal_places": 6, "allow_null": True}
MONEY = {"max_digits": 20, "decimal_places": 2}


class AccountQuerySerializer(serializers.Serializer):
    account_id = serializers.IntegerField(required=False, min_value=1)


class DateRangeQuerySerializer(AccountQuerySerializer):
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False)

    def validate(self, attrs):
        start, end = attrs.get("start_date"), attrs.get("end_date")
        if start and end and start > end:
            raise serializers.ValidationError({"end_date": ["end_date must be on or after start_date."]})
        return attrs


class SnapshotsQuerySerializer(AccountQuerySerializer):
    days = serializers.IntegerField(required=False, default=30, min_value=1, max_value=3650)


class AttributionQuerySerializer(DateRangeQuerySerializer):
    group_by = serializers.ChoiceField(choices=sorted(GROUPS), required=False, default="symbol")


class SnapshotCreateSerializer(serializers.Serializer):
    date = serializers.DateField(required=False, help_text="Session to snapshot; default: the current session")

    def validate_date(self, value):
        today = self.context["today"]
        if value > today:
            raise serializers.ValidationError("Cannot snapshot a future date.")
        if value.isoformat() < calendar.CALENDAR_START:
            raise serializers.ValidationError(f"The NYSE calendar starts at {calendar.CALENDAR_START}.")
        if not calendar.is_session(value):
            raise serializers.ValidationError(f"{value.isoformat()} is not an NYSE session.")
        return value


class SnapshotSerializer(serializers.ModelSerializer):
    class Meta:
        model = EquitySnapshot
        fields = [
            "id", "account", "snapshot_date", "total_equity", "cash", "market_value", "realized_pnl",
            "unrealized_pnl", "daily_return", "cumulative_return", "max_drawdown", "benchmark_return", "created_at",
        ]
        read_only_fields = fields


class SnapshotPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    equity = serializers.DecimalField(**MONEY)
    cash = serializers.DecimalField(**MONEY)
    market_value = serializers.DecimalField(**MONEY)
    realized_pnl = serializers.DecimalField(**MONEY)
    unrealized_pnl = serializers.DecimalField(**MONEY)
    daily_return = serializers.DecimalField(**RATIO)
    cumulative_return = serializers.DecimalField(**RATIO)
    benchmark_return = serializers.DecimalField(**RATIO)
    drawdown = serializers.DecimalField(**RATIO, help_text="Equity vs the running peak, <= 0")
    max_drawdown = serializers.DecimalField(**RATIO, help_text="Running worst drawdown, <= 0")


class SnapshotsSerializer(serializers.Serializer):
    snapshots = SnapshotPointSerializer(many=True)


class AttributionRowSerializer(serializers.Serializer):
    label = serializers.CharField()
    pnl = serializers.DecimalField(**MONEY)
    pct = serializers.DecimalField(
        max_digits=10, decimal_places=2, help_text="Share in percent: pnl / sum of |pnl| over the groups x 100 (sign kept)"
    )
    trades = serializers.IntegerField()
    wins = serializers.IntegerField()


class AttributionSerializer(serializers.Serializer):
    group_by = serializers.CharField()
    start_date = serializers.DateField(allow_null=True)
    end_date = serializers.DateField(allow_null=True)
    total_pnl = serializers.DecimalField(**MONEY)
    attributions = AttributionRowSerializer(many=True)


class StatsSerializer(serializers.Serializer):
    start_date = serializers.DateField(allow_null=True)
    end_date = serializers.DateField(allow_null=True)
    observations = serializers.IntegerField()
    alpha = serializers.DecimalField(**RATIO, help_text="Annualized (252 sessions), vs the benchmark")
    beta = serializers.DecimalField(**RATIO)
    correlation = serializers.DecimalField(**RATIO)
    total_return = serializers.DecimalField(**RATIO)
    benchmark_total_return = serializers.DecimalField(**RATIO)
    risk_free_rate = serializers.DecimalField(max_digits=10, decimal_places=6)


class MonthlyReturnSerializer(serializers.Serializer):
    year = serializers.IntegerField()
    month = serializers.IntegerField()

    def get_fields(self):
        # "return" is a Python keyword, so it cannot be declared as a class attribute.
        fields = super().get_fields()
        fields["return"] = serializers.DecimalField(max_digits=10, decimal_places=6)
        return fields


class MonthlyReturnsSerializer(serializers.Serializer):
    monthly_returns = MonthlyReturnSerializer(many=True)
