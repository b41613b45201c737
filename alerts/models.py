from decimal import Decimal

from django.db import models


class PriceAlert(models.Model):
    """Spec 2.4 ``price_alerts``."""

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

    def matches_price(self, price: Decimal, previous_close: Decimal | None = None) -> bool:
        """Price-only conditions on one row; indicator crosses are evaluated by the engine."""
        if self.condition_type == self.PRICE_ABOVE:
            return price >= self.threshold
        if self.condition_type == self.PRICE_BELOW:
            return price <= self.threshold
        if self.condition_type == self.PCT_CHANGE and previous_close:
            change_pct = (price - previous_close) / previous_close * 100
            return change_pct <= -self.threshold if self.direction == self.DOWN else change_pct >= self.threshold
        return False


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
        indexes = [
            models.Index(fields=["account", "trigger_time"], name="idx_alerthist_account_time"),
            models.Index(fields=["alert"], name="idx_alert"),
        ]
        ordering = ["-trigger_time", "-id"]
