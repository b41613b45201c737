from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import models
from django.db.models import F, Value
from django.db.models.functions import NullIf

MONEY = {"max_digits": 20, "decimal_places": 2}
PRICE = {"max_digits": 20, "decimal_places": 6}
QTY = {"max_digits": 20, "decimal_places": 6}


class Account(models.Model):
    """A trading account owned by one user. Cash is in the base currency (USD)."""

    ACTIVE, REDUCING, HALTED = "ACTIVE", "REDUCING", "HALTED"
    TRADING_STATES = [
        (ACTIVE, "Active"),
        (REDUCING, "Reducing only (orders must shrink a position)"),
        (HALTED, "Halted (only cancels)"),
    ]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="accounts")
    code = models.CharField(max_length=64, unique=True, help_text="The spec's account_id (e.g. PAPER-admin)")
    name = models.CharField(max_length=128, blank=True)
    base_currency = models.CharField(max_length=3, default="USD")
    cash = models.DecimalField(**MONEY, default=Decimal("0"))
    initial_cash = models.DecimalField(**MONEY, default=Decimal("0"))
    realized_pnl = models.DecimalField(**MONEY, default=Decimal("0"))
    total_commission = models.DecimalField(**MONEY, default=Decimal("0"))
    allow_short = models.BooleanField(default=True)
    is_paper = models.BooleanField(default=True)
    trading_state = models.CharField(max_length=10, choices=TRADING_STATES, default=ACTIVE)
    breaker_tripped_at = models.DateTimeField(null=True, blank=True)
    breaker_session = models.DateField(null=True, blank=True, help_text="Session the daily-loss breaker tripped in")
    breaker_override_session = models.DateField(
        null=True, blank=True, help_text="Session in which an admin reset the breaker early; it does not trip again in it"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.code


class Position(models.Model):
    """A signed holding: quantity > 0 long, < 0 short. Options carry their contract terms."""

    STOCK, OPTION = "STOCK", "OPTION"
    ASSET_TYPES = [(STOCK, "Stock"), (OPTION, "Option")]
    CALL, PUT = "C", "P"
    RIGHTS = [(CALL, "Call"), (PUT, "Put")]

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=32, help_text="Ticker, or the option contract symbol")
    asset_type = models.CharField(max_length=8, choices=ASSET_TYPES, default=STOCK)
    underlying = models.CharField(max_length=32, blank=True, help_text="Options: the underlying ticker")
    quantity = models.DecimalField(**QTY, default=Decimal("0"))
    avg_cost = models.DecimalField(**PRICE, default=Decimal("0"))
    cost_basis = models.DecimalField(
        **MONEY, default=Decimal("0"),
        help_text="Cash paid to open what is held, in cents; negative for a short (the proceeds received)",
    )
    realized_pnl = models.DecimalField(**MONEY, default=Decimal("0"))
    option_right = models.CharField(max_length=1, choices=RIGHTS, blank=True)
    strike = models.DecimalField(**PRICE, null=True, blank=True)
    expiry = models.DateField(null=True, blank=True)
    multiplier = models.IntegerField(default=1)
    implied_vol = models.DecimalField(max_digits=10, decimal_places=6, null=True, blank=True)
    opened_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "symbol"], name="uk_position_account_symbol")]
        ordering = ["account", "symbol"]

    def __str__(self) -> str:
        return f"{self.account_id} {self.symbol} {self.quantity}"

    @property
    def is_option(self) -> bool:
        return self.asset_type == self.OPTION

    @property
    def book_cost(self) -> Decimal:
        """The cost basis in cents; for a row written without one (admin, fixtures) quantity x avg cost."""
        if self.cost_basis or not self.quantity:
            return self.cost_basis
        return (self.quantity * self.avg_cost * self.multiplier).quantize(Decimal("0.01"))


class TradingPlan(models.Model):
    PENDING, ACTIVE, EXECUTED, CANCELLED, EXPIRED = "PENDING", "ACTIVE", "EXECUTED", "CANCELLED", "EXPIRED"
    STATUSES = [(s, s.title()) for s in (PENDING, ACTIVE, EXECUTED, CANCELLED, EXPIRED)]
    LONG, SHORT = "LONG", "SHORT"
    DIRECTIONS = [(LONG, "Long"), (SHORT, "Short")]

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="plans")
    symbol = models.CharField(max_length=32)
    direction = models.CharField(max_length=8, choices=DIRECTIONS)
    entry_price = models.DecimalField(**PRICE)
    stop_price = models.DecimalField(**PRICE, null=True, blank=True)
    target_price = models.DecimalField(**PRICE, null=True, blank=True)
    quantity = models.DecimalField(**QTY)
    order_type = models.CharField(max_length=10, default="LIMIT")
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING)
    valid_until = models.DateTimeField(null=True, blank=True)
    strategy_tag = models.CharField(max_length=64, blank=True)
    factor_tag = models.CharField(max_length=64, blank=True)
    signal = models.ForeignKey("factors.Signal", null=True, blank=True, on_delete=models.SET_NULL, related_name="plans")
    notes = models.TextField(blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["account", "status"], name="idx_plan_account_status")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Plan #{self.pk} {self.direction} {self.quantity} {self.symbol} @ {self.entry_price}"


class Order(models.Model):
    BUY, SELL = "BUY", "SELL"
    SIDES = [(BUY, "Buy"), (SELL, "Sell")]
    MARKET, LIMIT, STOP, STOP_LIMIT = "MARKET", "LIMIT", "STOP", "STOP_LIMIT"
    TYPES = [(MARKET, "Market"), (LIMIT, "Limit"), (STOP, "Stop"), (STOP_LIMIT, "Stop limit")]
    DAY, GTC = "DAY", "GTC"
    TIFS = [(DAY, "Day"), (GTC, "Good till cancelled")]
    NEW, ACCEPTED, PARTIALLY_FILLED, FILLED = "NEW", "ACCEPTED", "PARTIALLY_FILLED", "FILLED"
    CANCELLED, REJECTED, EXPIRED = "CANCELLED", "REJECTED", "EXPIRED"
    STATUSES = [(s, s.replace("_", " ").title()) for s in (NEW, ACCEPTED, PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED, EXPIRED)]
    OPEN_STATUSES = (NEW, ACCEPTED, PARTIALLY_FILLED)
    TERMINAL_STATUSES = (FILLED, CANCELLED, REJECTED, EXPIRED)
    BROKER = "BROKER"  # executed at the broker outside AlphaLoop (imported history, reconciliation)
    SOURCES = [(s, s.title()) for s in ("API", "ALERT", "PLAN", "STRATEGY", "APPROVAL", "DASHBOARD", "ADMIN", BROKER)]

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="orders")
    plan = models.ForeignKey(TradingPlan, null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")
    client_order_id = models.CharField(max_length=64)
    broker_order_id = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=SIDES)
    order_type = models.CharField(max_length=10, choices=TYPES, default=MARKET)
    time_in_force = models.CharField(max_length=3, choices=TIFS, default=DAY)
    quantity = models.DecimalField(**QTY)
    limit_price = models.DecimalField(**PRICE, null=True, blank=True)
    stop_price = models.DecimalField(**PRICE, null=True, blank=True)
    status = models.CharField(max_length=16, choices=STATUSES, default=NEW)
    filled_quantity = models.DecimalField(**QTY, default=Decimal("0"))
    avg_fill_price = models.DecimalField(**PRICE, null=True, blank=True)
    reject_code = models.CharField(max_length=32, blank=True)
    reject_reason = models.CharField(max_length=255, blank=True)
    warnings = models.JSONField(
        default=list, blank=True, help_text="Guard rules that let the order through with a caution: [{rule, detail}]"
    )
    source = models.CharField(max_length=10, choices=SOURCES, default="API")
    strategy_tag = models.CharField(max_length=64, blank=True)
    factor_tag = models.CharField(max_length=64, blank=True)
    stop_triggered = models.BooleanField(default=False, help_text="Stop-limit: the stop has been touched")
    created_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    filled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    rejected_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "client_order_id"], name="uk_order_account_client_id"),
        ]
        indexes = [
            models.Index(fields=["account", "created_at"], name="idx_order_account_time"),
            models.Index(fields=["status", "symbol"], name="idx_order_status_symbol"),
        ]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Order #{self.pk} {self.side} {self.quantity} {self.symbol} {self.status}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side == self.BUY else -self.quantity


class Fill(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="fills")
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=Order.SIDES)
    quantity = models.DecimalField(**QTY)
    price = models.DecimalField(**PRICE)
    commission = models.DecimalField(**MONEY, default=Decimal("0"))
    realized_pnl = models.DecimalField(**MONEY, default=Decimal("0"), help_text="P&L this fill closed, before commission")
    cash_flow = models.DecimalField(
        **MONEY, default=Decimal("0"), help_text="How this fill moved cash: -(notional + commission) for a buy, notional - commission for a sell"
    )
    external_id = models.CharField(max_length=64, blank=True, help_text="The broker's execution id (dedups re-sent fills)")
    # ``external_id`` or NULL when blank: the database keeps one fill per broker execution and account
    # (NULLs never collide, so fills without an execution id, e.g. paper fills, are unconstrained).
    execution_key = models.GeneratedField(
        expression=NullIf(F("external_id"), Value("")),
        output_field=models.CharField(max_length=64, null=True),
        db_persist=True,
    )
    executed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "execution_key"], name="uk_fill_account_execution"),
        ]
        indexes = [models.Index(fields=["account", "symbol", "executed_at"], name="idx_fill_account_symbol")]
        ordering = ["executed_at", "id"]

    def __str__(self) -> str:
        return f"Fill {self.side} {self.quantity} {self.symbol} @ {self.price}"


class ApprovalRequest(models.Model):
    """An alert or signal asks the user before a plan's order is sent.

    Approving one whose order is refused (outside trading hours, a guard limit, an invalid order)
    leaves it PENDING with ``refusal_*`` saying why, until it executes, is rejected or expires.
    """

    PENDING, APPROVED, REJECTED, EXPIRED = "PENDING", "APPROVED", "REJECTED", "EXPIRED"
    STATUSES = [(s, s.title()) for s in (PENDING, APPROVED, REJECTED, EXPIRED)]

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="approvals")
    plan = models.ForeignKey(TradingPlan, on_delete=models.CASCADE, related_name="approvals")
    source = models.CharField(max_length=32, help_text="e.g. alert:12 or signal:40")
    reason = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING)
    token = models.CharField(max_length=16, unique=True, help_text="Short code for replying in Telegram")
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_via = models.CharField(max_length=16, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    refusal_code = models.CharField(
        max_length=32, blank=True, help_text="Why the last approval did not execute (a guard rule, invalid_order, ...)"
    )
    refusal_reason = models.CharField(max_length=255, blank=True)
    refused_at = models.DateTimeField(null=True, blank=True, help_text="When an approval last failed to execute; it stays PENDING")
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["account", "status"], name="idx_approval_account_status")]
        ordering = ["-created_at", "-id"]

    def pending_note(self) -> str:
        """'The request stays pending until 2026-11-24 12:00 ET' (its expiry in market time)."""
        if self.expires_at is None:
            return "The request stays pending"
        until = self.expires_at.astimezone(ZoneInfo(settings.MARKET_TIME_ZONE)).strftime("%Y-%m-%d %H:%M ET")
        return f"The request stays pending until {until}"


class BrokerSync(models.Model):
    """What the broker said about an account at the last reconciliation (``orders.reconciliation``).

    One row per account reconciled against a real broker: whether the broker answered, its cash, equity,
    buying power and positions, and how far its executions have been read. In REAL mode the dashboard,
    the daily-loss breaker and the equity snapshot read the broker's figures from here.
    """

    account = models.OneToOneField(Account, on_delete=models.CASCADE, related_name="broker_sync")
    broker = models.CharField(max_length=32)
    connected = models.BooleanField(default=False, help_text="The last reconciliation reached the broker")
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=255, blank=True)
    cash = models.DecimalField(**MONEY, null=True, blank=True)
    equity = models.DecimalField(**MONEY, null=True, blank=True)
    buying_power = models.DecimalField(**MONEY, null=True, blank=True)
    positions = models.JSONField(default=list, blank=True, help_text="The broker's positions: [{symbol, quantity, avg_cost}]")
    executions_read_until = models.DateTimeField(
        null=True, blank=True, help_text="The broker's executions up to this time are in the ledger"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "broker reconciliation state"
        verbose_name_plural = "broker reconciliation states"

    def __str__(self) -> str:
        return f"{self.account} at {self.broker}"


class BrokerMismatch(models.Model):
    """A difference between AlphaLoop's books and the broker's, found by reconciliation. Never overwritten:
    it stays open until a later reconciliation finds the two agree again (``resolved_at``)."""

    POSITION, CASH, ORDER = "position", "cash", "order"
    KINDS = [(POSITION, "Position"), (CASH, "Cash"), (ORDER, "Open order")]

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="broker_mismatches")
    kind = models.CharField(max_length=16, choices=KINDS)
    symbol = models.CharField(max_length=32, blank=True)
    ours = models.CharField(max_length=255, help_text="What AlphaLoop's ledger says")
    theirs = models.CharField(max_length=255, help_text="What the broker says")
    action = models.CharField(max_length=8, blank=True, help_text="BROKER_MISMATCH_ACTION when it was found")
    detected_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "resolved_at"], name="idx_mismatch_account_open")]
        ordering = ["-detected_at", "-id"]
        verbose_name = "broker mismatch"
        verbose_name_plural = "broker mismatches"

    def __str__(self) -> str:
        return f"{self.account} {self.kind} {self.symbol}: ours {self.ours}, broker {self.theirs}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None
