from django.conf import settings
from django.db import models


class BacktestRun(models.Model):
    PENDING, RUNNING, SUCCEEDED, FAILED = "PENDING", "RUNNING", "SUCCEEDED", "FAILED"
    STATUSES = [(PENDING, "Pending"), (RUNNING, "Running"), (SUCCEEDED, "Succeeded"), (FAILED, "Failed")]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtest_runs")
    strategy_id = models.CharField(max_length=64)
    params = models.JSONField(default=dict)
    symbols = models.JSONField(default=list)
    default_universe = models.BooleanField(default=False, help_text="symbols is the strategy's default universe "
                                                                    "(the request named none)")
    start_date = models.DateField()
    end_date = models.DateField()
    initial_capital = models.DecimalField(max_digits=20, decimal_places=2)
    commission = models.DecimalField(max_digits=10, decimal_places=6, default=0)
    slippage_bps = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    risk_free_rate = models.DecimalField(max_digits=8, decimal_places=6, default=0,
                                         help_text="Annual risk-free rate the Sharpe, Sortino and alpha were measured against")
    sweep_id = models.UUIDField(null=True, blank=True, db_index=True, help_text="Runs of one parameter grid")
    status = models.CharField(max_length=16, choices=STATUSES, default=PENDING)
    progress = models.FloatField(default=0.0)
    error = models.TextField(blank=True)
    metrics = models.JSONField(null=True, blank=True)
    equity_curve = models.JSONField(null=True, blank=True)
    trades = models.JSONField(null=True, blank=True)
    open_trades = models.JSONField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="idx_bt_user_time")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.strategy_id} {self.status}"
