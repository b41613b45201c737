from django.db import models


class Instrument(models.Model):
    STOCK, ETF, INDEX = "STOCK", "ETF", "INDEX"
    ASSET_CLASSES = [(STOCK, "Stock"), (ETF, "ETF"), (INDEX, "Index")]

    symbol = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=128, blank=True)
    asset_class = models.CharField(max_length=8, choices=ASSET_CLASSES, default=STOCK)
    exchange = models.CharField(max_length=16, default="XNYS")
    sector = models.CharField(max_length=64, blank=True)
    is_synthetic = models.BooleanField(default=False, help_text="Generated demo data, not real prices.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["symbol"]

    def __str__(self) -> str:
        return self.symbol


class Bar(models.Model):
    """One daily OHLCV bar."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="bars")
    date = models.DateField()
    open = models.DecimalField(max_digits=20, decimal_places=6)
    high = models.DecimalField(max_digits=20, decimal_places=6)
    low = models.DecimalField(max_digits=20, decimal_places=6)
    close = models.DecimalField(max_digits=20, decimal_places=6)
    adj_close = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    volume = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["instrument", "date"], name="uk_bar_instrument_date")]
        ordering = ["instrument", "date"]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.date} {self.close}"


class Quote(models.Model):
    """The latest tick for an instrument (one row per instrument, overwritten)."""

    instrument = models.OneToOneField(Instrument, on_delete=models.CASCADE, related_name="quote")
    price = models.DecimalField(max_digits=20, decimal_places=6)
    bid = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    ask = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    volume = models.BigIntegerField(default=0)
    source = models.CharField(max_length=16, default="feed")
    timestamp = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.price} @ {self.timestamp:%Y-%m-%d %H:%M:%S}"


class FundamentalSnapshot(models.Model):
    """Fundamentals as known on ``as_of`` (usable from that date on, never earlier)."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="fundamentals")
    as_of = models.DateField()
    eps = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True, help_text="Trailing 12m EPS")
    book_value_per_share = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    roe = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True, help_text="Fraction, 0.15 = 15%")
    is_synthetic = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["instrument", "as_of"], name="uk_fundamental_instrument_asof")]
        ordering = ["instrument", "as_of"]
