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
    spread = models.DecimalField(max_digits=8, decimal_places=6, default=0,
                                 help_text="Bid-ask spread as a fraction of the price; half of it against each fill")
    max_volume_fraction = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True,
                                              help_text="Fills per symbol and bar capped at this fraction of the bar's "
                                                        "volume (null: no cap)")
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
    volume_capped_orders = models.JSONField(null=True, blank=True,
                                            help_text="Orders the volume cap filled in part or not at all, with the reason")
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


class WalkForwardRun(models.Model):
    """A walk-forward optimisation: its windows (``WalkForwardWindow``) run as Celery tasks, then stitch."""

    PENDING, RUNNING, SUCCEEDED, FAILED = BacktestRun.PENDING, BacktestRun.RUNNING, BacktestRun.SUCCEEDED, BacktestRun.FAILED

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="walk_forward_runs")
    strategy_id = models.CharField(max_length=64)
    params = models.JSONField(default=dict, help_text="Parameters every combination shares")
    grid = models.JSONField(default=dict, help_text="Parameter -> values optimised on each train window")
    combinations = models.JSONField(default=list, help_text="The valid combinations, in grid order")
    skipped = models.JSONField(default=list, help_text="Combinations the strategy refused, with the reason")
    symbols = models.JSONField(default=list)
    default_universe = models.BooleanField(default=False)
    start_date = models.DateField()
    end_date = models.DateField()
    initial_capital = models.DecimalField(max_digits=20, decimal_places=2)
    commission = models.DecimalField(max_digits=10, decimal_places=6, default=0)
    slippage_bps = models.DecimalField(max_digits=10, decimal_places=4, default=0)
    spread = models.DecimalField(max_digits=8, decimal_places=6, default=0)
    max_volume_fraction = models.DecimalField(max_digits=7, decimal_places=6, null=True, blank=True)
    risk_free_rate = models.DecimalField(max_digits=8, decimal_places=6, default=0)
    train_days = models.PositiveIntegerField(help_text="Sessions per train window")
    test_days = models.PositiveIntegerField(help_text="Sessions per test window")
    step_days = models.PositiveIntegerField(help_text="Sessions from one window to the next")
    anchored = models.BooleanField(default=False, help_text="Train windows all start at the first session")
    objective = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=BacktestRun.STATUSES, default=PENDING)
    windows_total = models.PositiveIntegerField(default=0)
    windows_done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True, help_text="The stitched out-of-sample curve, its metrics and trades")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "created_at"], name="idx_wf_user_time")]
        verbose_name = "walk-forward run"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"walk-forward #{self.pk} {self.strategy_id} {self.status}"


class WalkForwardWindow(models.Model):
    """One train/test window of a walk-forward, one Celery task: optimise on train, trade the winner on test."""

    run = models.ForeignKey(WalkForwardRun, on_delete=models.CASCADE, related_name="windows")
    index = models.PositiveIntegerField()
    train_history = models.DateField(help_text="First session of the history before the train window")
    train_start = models.DateField()
    train_end = models.DateField()
    test_history = models.DateField(help_text="First session of the history before the test window")
    test_start = models.DateField()
    test_end = models.DateField()
    status = models.CharField(max_length=16, choices=BacktestRun.STATUSES, default=BacktestRun.PENDING)
    error = models.TextField(blank=True)
    result = models.JSONField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="uniq_wf_window")]

    def __str__(self) -> str:
        return f"walk-forward #{self.run_id} window {self.index} {self.status}"
