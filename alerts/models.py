from decimal import Decimal

from django.db import models


class PriceAlert(models.Model):
    """Spec 2.4 ``price_alerts``.

    ``direction`` (up/down) of rsi_cross, macd_cross and pct_change: blank means a cross or move
    either way; price conditions have none. ``alerts.engine`` defines each condition exactly.
    """

    PRICE_ABOVE, PRICE_BELOW, PCT_CHANGE = "price_above", "price_below", "pct_change"
    RSI_CROSS, MACD_CROSS = "rsi_cross", "macd_cross"
    CONDITIONS = [(c, c) for c in (PRICE_ABOVE, PRICE_BELOW, PCT_CHANGE, RSI_CROSS, MACD_CROSS)]
    UP, DOWN = "up", "down"
    DIRECTIONS = [(UP, "Up"), (DOWN, "Down")]
    NOTIFY, AUTO_EXECUTE, REQUEST_APPROVAL = "notify", "auto_execute", "request_approval"
    ACTIONS = [(NOTIFY, "Notify"), (AUTO_EXECUTE, "Auto execute"), (REQUEST_APPROVAL, "Ask for approval")]
    ACTIVE, PAUSED, TRIGGERED, EXPIRED = "ACTIVE", "PAUSED", "TRIGGERED", "EXPIRED"
    STATUSES = [(s, s.title()) for s in (ACTIVE, PAUSED, TRIGGERED, EXPIRED)]

    account = models.ForeignKey("orders.Account", on_delete=models.CASCADE, related_name="alerts")
    symbol = models.CharField(max_length=32)
    condition_type = models.CharField(max_length=32, choices=CONDITIONS)
    threshold = models.DecimalField(max_digits=20, decimal_places=6)
    direction = models.CharField(
        max_length=4, choices=DIRECTIONS, blank=True, help_text="rsi_cross / macd_cross / pct_change: which way"
    )
    action = models.CharField(max_length=16, choices=ACTIONS, default=NOTIFY)
    linked_plan = models.ForeignKey(
        "orders.TradingPlan", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    alert_status = models.CharField(max_length=16, choices=STATUSES, default=ACTIVE)
    note = models.CharField(max_length=255, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "price_alerts"
        indexes = [
            models.Index(fields=["account", "alert_status"], name="idx_account_status"),
            models.Index(fields=["symbol"], name="idx_alert_symbol"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.symbol} {self.condition_type} {self.threshold} ({self.alert_status})"

    def describe(self) -> str:
        """The condition in words: "AAPL above 190", "AAPL RSI-14 crosses up through 70"."""
        threshold = f"{self.threshold.normalize():f}"
        if self.condition_type == self.PRICE_ABOVE:
            return f"{self.symbol} at or above {threshold}"
        if self.condition_type == self.PRICE_BELOW:
            return f"{self.symbol} at or below {threshold}"
        if self.condition_type == self.PCT_CHANGE:
            way = {self.UP: "up", self.DOWN: "down"}.get(self.direction, "up or down")
            return f"{self.symbol} {way} {threshold}% from the previous close"
        if self.condition_type == self.RSI_CROSS:
            if not self.direction:
                return f"{self.symbol} RSI-14 crosses {threshold} either way"
            return f"{self.symbol} RSI-14 crosses {self.direction} through {threshold}"
        if not self.direction:
            return f"{self.symbol} MACD crosses its signal line either way"
        return f"{self.symbol} MACD crosses {self.direction} through its signal line"

    def describe_firing(self, crossed: str | None) -> str:
        """What happened when it fired: "AAPL RSI-14 crossed down through 70" (``crossed``: up/down)."""
        if crossed not in (self.UP, self.DOWN):
            return self.describe()
        threshold = f"{self.threshold.normalize():f}"
        if self.condition_type == self.RSI_CROSS:
            return f"{self.symbol} RSI-14 crossed {crossed} through {threshold}"
        if self.condition_type == self.MACD_CROSS:
            return f"{self.symbol} MACD crossed {crossed} through its signal line"
        if self.condition_type == self.PCT_CHANGE:
            return f"{self.symbol} {crossed} {threshold}% from the previous close"
        return self.describe()

    def matches_price(self, price: Decimal, previous_close: Decimal | None = None) -> bool:
        """Does ``price`` fire this alert? Price conditions only: RSI/MACD crosses need daily
        history and are answered by ``alerts.engine`` (which this delegates to)."""
        from alerts.engine import AlertRule, rule_matches
        from alerts.indicators import IndicatorStates

        rows = {self.symbol: {"last_close": float(previous_close)}} if previous_close else {}
        rule = AlertRule(self.pk or 0, self.symbol, self.condition_type, self.threshold, self.direction)
        return rule_matches(rule, price, IndicatorStates.from_rows(rows, (self.symbol,)))


class AlertHistory(models.Model):
    """Spec 2.5 ``alert_history``."""

    alert = models.ForeignKey(PriceAlert, on_delete=models.CASCADE, related_name="history")
    account = models.ForeignKey("orders.Account", on_delete=models.CASCADE, related_name="alert_history")
    symbol = models.CharField(max_length=32)
    trigger_price = models.DecimalField(max_digits=20, decimal_places=6)
    trigger_time = models.DateTimeField()
    notification_sent = models.BooleanField(default=False)
    action_taken = models.CharField(max_length=64, null=True, blank=True)
    detail = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "alert_history"
        verbose_name = "alert history entry"
        verbose_name_plural = "alert history"
        indexes = [
            models.Index(fields=["account", "trigger_time"], name="idx_alerthist_account_time"),
            models.Index(fields=["alert"], name="idx_alert"),
        ]
        ordering = ["-trigger_time", "-id"]
