from decimal import Decimal

from django.db import models

MONEY = {"max_digits": 20, "decimal_places": 2}
RATIO = {"max_digits": 10, "decimal_places": 6}


class EquitySnapshot(models.Model):
    """Spec 2.1 ``equity_snapshots``: one row per account and session."""

    account = models.ForeignKey("orders.Account", on_delete=models.CASCADE, related_name="equity_snapshots")
    snapshot_date = models.DateField()
    total_equity = models.DecimalField(**MONEY)
    cash = models.DecimalField(**MONEY, default=Decimal("0"))
    market_value = models.DecimalField(**MONEY, default=Decimal("0"))
    realized_pnl = models.DecimalField(**MONEY, default=Decimal("0"))
    unrealized_pnl = models.DecimalField(**MONEY, default=Decimal("0"))
    daily_return = models.DecimalField(**RATIO, null=True, blank=True)
    cumulative_return = models.DecimalField(**RATIO, null=True, blank=True)
    # A fraction (-0.05 = 5 % below the running peak), so not named *_pct; the spec's column name is kept.
    max_drawdown = models.DecimalField(**RATIO, null=True, blank=True, db_column="max_drawdown_pct")
    benchmark_return = models.DecimalField(**RATIO, null=True, blank=True, help_text="SPY daily return")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "equity_snapshots"
        constraints = [models.UniqueConstraint(fields=["account", "snapshot_date"], name="uk_account_date")]
        indexes = [models.Index(fields=["account", "snapshot_date"], name="idx_account_date")]
        ordering = ["account", "snapshot_date"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.snapshot_date} {self.total_equity}"


class TradePnlAttribution(models.Model):
    """Spec 2.2 ``trade_pnl_attribution``: one closed (or partly closed) trade, matched FIFO."""

    LONG, SHORT = "LONG", "SHORT"
    DIRECTIONS = [(LONG, "Long"), (SHORT, "Short")]

    account = models.ForeignKey("orders.Account", on_delete=models.CASCADE, related_name="pnl_attributions")
    symbol = models.CharField(max_length=32)
    trade_date = models.DateField(help_text="Date the trade was closed")
    entry_date = models.DateField(null=True, blank=True)
    direction = models.CharField(max_length=8, choices=DIRECTIONS)
    entry_price = models.DecimalField(max_digits=20, decimal_places=6)
    exit_price = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    quantity = models.DecimalField(max_digits=20, decimal_places=6)
    realized_pnl = models.DecimalField(**MONEY, null=True, blank=True)
    holding_days = models.IntegerField(null=True, blank=True)
    strategy_tag = models.CharField(max_length=64, null=True, blank=True)
    factor_tag = models.CharField(max_length=64, null=True, blank=True)
    plan = models.ForeignKey(
        "orders.TradingPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="attributions"
    )
    entry_fill = models.ForeignKey("orders.Fill", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    exit_fill = models.ForeignKey("orders.Fill", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "trade_pnl_attribution"
        verbose_name = "trade P&L attribution"
        verbose_name_plural = "trade P&L attributions"
        constraints = [
            models.UniqueConstraint(fields=["entry_fill", "exit_fill"], name="uk_attribution_fill_pair"),
        ]
        indexes = [
            models.Index(fields=["account", "trade_date"], name="idx_attr_account_date"),
            models.Index(fields=["symbol"], name="idx_symbol"),
        ]
        ordering = ["-trade_date", "-id"]


class FifoBook(models.Model):
    """The open FIFO lots of one (account, symbol) after every fill up to ``through_fill``.

    ``lots`` is ``[[entry_fill_id, "signed open quantity"], ...]`` oldest first (all of one sign).
    Derived data, written by ``equity.services`` only: ``fifo_rebuild`` restores it from the fills.
    """

    account = models.ForeignKey("orders.Account", on_delete=models.CASCADE, related_name="fifo_books")
    symbol = models.CharField(max_length=32)
    through_fill = models.ForeignKey("orders.Fill", null=True, on_delete=models.SET_NULL, related_name="+")
    lots = models.JSONField(default=list)

    class Meta:
        db_table = "equity_fifo_book"
        verbose_name = "FIFO book"
        constraints = [models.UniqueConstraint(fields=["account", "symbol"], name="uk_fifo_book_account_symbol")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.symbol} through fill {self.through_fill_id}"
