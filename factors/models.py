from django.db import models


class Signal(models.Model):
    """Spec 4.7 ``Signal {symbol, direction, strength, factors, win_rate, rr_ratio}`` with its evidence."""

    LONG, SHORT, FLAT = "LONG", "SHORT", "FLAT"
    DIRECTIONS = [(LONG, "Long"), (SHORT, "Short"), (FLAT, "Flat")]

    symbol = models.CharField(max_length=32)
    as_of = models.DateField(help_text="Session whose close produced the signal")
    direction = models.CharField(max_length=8, choices=DIRECTIONS)
    strength = models.DecimalField(max_digits=6, decimal_places=4)
    score = models.DecimalField(max_digits=12, decimal_places=6)
    factors = models.JSONField(default=dict)
    win_rate = models.DecimalField(max_digits=6, decimal_places=4, null=True, blank=True)
    rr_ratio = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    sample_size = models.IntegerField(default=0)
    horizon_days = models.IntegerField(default=10)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["symbol", "as_of"], name="uk_signal_symbol_asof")]
        indexes = [models.Index(fields=["as_of"], name="idx_signal_asof")]
        ordering = ["-as_of", "-strength"]

    def __str__(self) -> str:
        return f"{self.as_of} {self.symbol} {self.direction} {self.strength}"
