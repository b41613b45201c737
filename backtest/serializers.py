from decimal import Decimal

from rest_framework import serializers

from backtest.models import BacktestRun
from backtest.services import MAX_SWEEP_RUNS
from backtest.strategies import STRATEGIES


class RunRequestSerializer(serializers.Serializer):
    strategy_id = serializers.ChoiceField(choices=sorted(STRATEGIES))
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    initial_capital = serializers.DecimalField(max_digits=20, decimal_places=2, min_value=Decimal("1"),
                                               max_value=Decimal("1000000000000"))
    params = serializers.DictField(required=False, default=dict)
    symbols = serializers.ListField(
        child=serializers.CharField(max_length=32), min_length=1, max_length=500, required=False,
        help_text="Default: the strategy's default_universe (GET backtest/strategies); the result says which was used")
    commission = serializers.DecimalField(max_digits=10, decimal_places=6, min_value=Decimal("0"),
                                          max_value=Decimal("0.1"), default=Decimal("0"),
                                          help_text="Fraction of notional per fill, e.g. 0.002")
    slippage_bps = serializers.DecimalField(max_digits=10, decimal_places=4, min_value=Decimal("0"),
                                            max_value=Decimal("1000"), default=Decimal("0"))
    risk_free_rate = serializers.DecimalField(
        max_digits=8, decimal_places=6, min_value=Decimal("-0.1"), max_value=Decimal("1"), required=False,
        help_text="Annual risk-free rate for Sharpe, Sortino and alpha, e.g. 0.04; default BACKTEST_RISK_FREE_RATE (0)")


class SweepRequestSerializer(RunRequestSerializer):
    grid = serializers.DictField(
        child=serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=MAX_SWEEP_RUNS),
        help_text=f'Parameter -> values, e.g. {{"fast": [5, 10], "slow": [20, 50]}}; at most {MAX_SWEEP_RUNS} '
                  'combinations (the product of the list lengths, checked before any run is built)')


class RunAcceptedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    results_url = serializers.CharField()


class SweepAcceptedSerializer(serializers.Serializer):
    sweep_id = serializers.UUIDField()
    runs = RunAcceptedSerializer(many=True)


class RunSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = BacktestRun
        fields = ["id", "strategy_id", "params", "symbols", "start_date", "end_date", "initial_capital", "commission",
                  "slippage_bps", "risk_free_rate", "default_universe", "sweep_id", "status", "progress", "error", "metrics", "created_at", "finished_at"]
        read_only_fields = fields


class RunResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = BacktestRun
        fields = RunSummarySerializer.Meta.fields + ["equity_curve", "trades", "open_trades"]
        read_only_fields = fields


class StrategySerializer(serializers.Serializer):
    id = serializers.CharField()
    description = serializers.CharField()
    params = serializers.DictField()
    default_universe = serializers.JSONField(
        help_text='Symbols a run trades when it names none: a list, or "stocks" (every active stock with bars in the window)')
