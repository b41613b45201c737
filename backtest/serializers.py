from decimal import Decimal

from rest_framework import serializers

from backtest import walkforward
from backtest.engine import MAX_SPREAD
from backtest.models import BacktestRun, WalkForwardRun, WalkForwardWindow
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
    spread = serializers.DecimalField(
        max_digits=8, decimal_places=6, min_value=Decimal("0"), max_value=Decimal(str(MAX_SPREAD)), default=Decimal("0"),
        help_text="Bid-ask spread as a fraction of the price, e.g. 0.0005; half of it against each fill: buys at "
                  "price x (1 + spread/2), sells at price x (1 - spread/2)")
    max_volume_fraction = serializers.DecimalField(
        max_digits=7, decimal_places=6, min_value=Decimal("0.000001"), max_value=Decimal("1"), required=False,
        allow_null=True,
        help_text="Volume cap, e.g. 0.1: one symbol's fills on one bar add up to at most this fraction of the bar's "
                  "volume; the rest of a cut order is cancelled. Default: no cap")
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
                  "slippage_bps", "spread", "max_volume_fraction", "risk_free_rate", "default_universe", "sweep_id",
                  "status", "progress", "error", "metrics", "created_at", "finished_at"]
        read_only_fields = fields


class RunResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = BacktestRun
        fields = RunSummarySerializer.Meta.fields + ["equity_curve", "trades", "open_trades", "volume_capped_orders"]
        read_only_fields = fields


class StrategySerializer(serializers.Serializer):
    id = serializers.CharField()
    description = serializers.CharField()
    params = serializers.DictField()
    default_universe = serializers.JSONField(
        help_text='Symbols a run trades when it names none: a list, or "stocks" (every active stock with bars in the window)')


OBJECTIVE_CHOICES = sorted(walkforward.OBJECTIVES)


class WalkForwardRequestSerializer(SweepRequestSerializer):
    """A run's body (``params`` are the fixed parameters) plus the grid and the windows."""

    train_days = serializers.IntegerField(min_value=10, max_value=5040, help_text="Sessions per train window, e.g. 252")
    test_days = serializers.IntegerField(min_value=2, max_value=2520, help_text="Sessions per test window, e.g. 63")
    step_days = serializers.IntegerField(
        min_value=2, max_value=2520, required=False,
        help_text="Sessions from one window to the next; default test_days; at least test_days (test windows never overlap)")
    anchored = serializers.BooleanField(default=False, help_text="Every train window starts at start_date (it grows); "
                                                                 "default: rolling (it slides)")
    objective = serializers.ChoiceField(choices=OBJECTIVE_CHOICES, default="sharpe",
                                        help_text="What the train window maximises; max_dd: the shallowest drawdown")


class WalkForwardSummarySerializer(serializers.ModelSerializer):
    results_url = serializers.SerializerMethodField()

    class Meta:
        model = WalkForwardRun
        fields = ["id", "strategy_id", "params", "grid", "symbols", "default_universe", "start_date", "end_date",
                  "initial_capital", "commission", "slippage_bps", "spread", "max_volume_fraction", "risk_free_rate",
                  "train_days", "test_days",
                  "step_days", "anchored", "objective", "status", "windows_total", "windows_done", "error",
                  "created_at", "finished_at", "results_url"]
        read_only_fields = fields

    def get_results_url(self, run: WalkForwardRun) -> str:
        return f"/api/v1/backtest/walk-forward/{run.pk}"


class WalkForwardWindowSerializer(serializers.ModelSerializer):
    class Meta:
        model = WalkForwardWindow
        fields = ["index", "train_history", "train_start", "train_end", "test_history", "test_start", "test_end",
                  "status", "error", "result"]
        read_only_fields = fields


class WalkForwardResultSerializer(WalkForwardSummarySerializer):
    windows = WalkForwardWindowSerializer(many=True, read_only=True)

    class Meta(WalkForwardSummarySerializer.Meta):
        fields = WalkForwardSummarySerializer.Meta.fields + ["combinations", "skipped", "windows", "result"]
        read_only_fields = fields


class RobustnessQuerySerializer(serializers.Serializer):
    paths = serializers.IntegerField(min_value=10, max_value=10_000, default=1000,
                                     help_text="Monte Carlo paths per method; paths x trades at most 5,000,000")
    seed = serializers.IntegerField(min_value=0, max_value=2**32 - 1, default=1, help_text="Same seed, same paths")
    ruin_pct = serializers.IntegerField(min_value=1, max_value=100, default=50,
                                        help_text="Ruin: a drawdown from the running peak this deep, in percent")


class RobustnessSerializer(serializers.Serializer):
    run_id = serializers.IntegerField()
    sweep_id = serializers.UUIDField(allow_null=True)
    monte_carlo = serializers.JSONField(allow_null=True, help_text="null with fewer than 2 closed trades")
    monte_carlo_note = serializers.CharField(allow_null=True)
    regimes = serializers.JSONField(allow_null=True, help_text="null without SPY bars")
    regimes_note = serializers.CharField(allow_null=True)


class SensitivityQuerySerializer(serializers.Serializer):
    x = serializers.CharField(max_length=64, required=False, help_text="Default: the first parameter the sweep varies")
    y = serializers.CharField(max_length=64, required=False, help_text="Default: the second one (none: one row)")
    objective = serializers.ChoiceField(choices=OBJECTIVE_CHOICES, default="sharpe")


class SensitivitySerializer(serializers.Serializer):
    sweep_id = serializers.UUIDField()
    strategy_id = serializers.CharField()
    runs = serializers.IntegerField()
    finished = serializers.IntegerField()
    varying = serializers.ListField(child=serializers.CharField())
    best_over = serializers.ListField(child=serializers.CharField(),
                                      help_text="Other parameters the sweep varied: each cell is the best over them")
    objective = serializers.CharField()
    x = serializers.JSONField()
    y = serializers.JSONField(allow_null=True)
    cells = serializers.JSONField(help_text="Rows (y values) of columns (x values); null: no finished run there")
    run_ids = serializers.JSONField()
    best = serializers.JSONField(allow_null=True)
    neighbours = serializers.JSONField(allow_null=True)
