"""Input and output shapes of the orders API. Validation of business rules lives in the services."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from rest_framework import serializers

from alphaloop.contract import FormBooleanField, FormIntegerField
from alphaloop.money import PRICE_PLACES
from orders.external_fills import IMPORT_STATUSES
from orders.importers import FORMATS
from orders.models import Account, ApprovalRequest, BrokerMismatch, Fill, Order, TradingPlan

PRICE_FIELD = {"max_digits": 20, "decimal_places": 6}
POSITIVE = PRICE_PLACES  # the smallest positive price or quantity


class AccountSerializer(serializers.ModelSerializer):
    class Meta:
        model = Account
        fields = [
            "id", "code", "name", "base_currency", "cash", "initial_cash", "realized_pnl", "total_commission",
            "allow_short", "is_paper", "trading_state", "breaker_tripped_at", "breaker_session", "created_at",
        ]
        read_only_fields = fields


class AccountSummarySerializer(AccountSerializer):
    """The account with its live valuation (``GET /api/v1/account``)."""

    equity = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)
    market_value = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)
    unrealized_pnl = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)
    previous_close_equity = serializers.DecimalField(max_digits=20, decimal_places=2, read_only=True)
    breaker_active = serializers.BooleanField(read_only=True)

    class Meta(AccountSerializer.Meta):
        fields = AccountSerializer.Meta.fields + [
            "equity", "market_value", "unrealized_pnl", "previous_close_equity", "breaker_active",
        ]
        read_only_fields = fields


class FillSerializer(serializers.ModelSerializer):
    class Meta:
        model = Fill
        fields = ["id", "symbol", "side", "quantity", "price", "commission", "realized_pnl", "executed_at"]
        read_only_fields = fields


class GuardWarningSerializer(serializers.Serializer):
    rule = serializers.CharField(help_text="The guard rule that warns, e.g. price_band")
    detail = serializers.CharField()


class OrderSerializer(serializers.ModelSerializer):
    direction = serializers.CharField(source="side", read_only=True)
    remaining_quantity = serializers.DecimalField(max_digits=20, decimal_places=6, read_only=True)
    warnings = GuardWarningSerializer(many=True, read_only=True, help_text="Cautions of the guard on an accepted order")

    class Meta:
        model = Order
        fields = [
            "id", "account", "plan", "client_order_id", "broker_order_id", "symbol", "side", "direction", "order_type",
            "time_in_force", "quantity", "limit_price", "stop_price", "status", "filled_quantity", "remaining_quantity",
            "avg_fill_price", "reject_code", "reject_reason", "warnings", "source", "strategy_tag", "factor_tag", "stop_triggered",
            "created_at", "accepted_at", "filled_at", "cancelled_at", "rejected_at", "expired_at",
        ]
        read_only_fields = fields


class OrderDetailSerializer(OrderSerializer):
    fills = FillSerializer(many=True, read_only=True)

    class Meta(OrderSerializer.Meta):
        fields = OrderSerializer.Meta.fields + ["fills"]
        read_only_fields = fields


class OrderSubmitSerializer(serializers.Serializer):
    """``POST /api/v1/orders/submit``. ``direction`` is the spec's name for the side; ``side`` is accepted too."""

    account_id = serializers.IntegerField(required=False, help_text="Defaults to your first account")
    symbol = serializers.CharField(max_length=32)
    direction = serializers.ChoiceField(choices=Order.SIDES, required=False, help_text="BUY or SELL (the spec's name for the side)")
    side = serializers.ChoiceField(choices=Order.SIDES, required=False, help_text="Alias of direction")
    quantity = serializers.DecimalField(**PRICE_FIELD, min_value=POSITIVE)
    order_type = serializers.ChoiceField(choices=Order.TYPES, default=Order.MARKET)
    time_in_force = serializers.ChoiceField(choices=Order.TIFS, default=Order.DAY)
    limit_price = serializers.DecimalField(**PRICE_FIELD, min_value=POSITIVE, required=False, allow_null=True)
    stop_price = serializers.DecimalField(**PRICE_FIELD, min_value=POSITIVE, required=False, allow_null=True)
    client_order_id = serializers.RegexField(r"^[A-Za-z0-9._:\-]{1,64}$", required=False, allow_null=True,
                                             help_text="Your idempotency key: the same id with the same order returns that order (200); "
                                                       "with a different order it is a 409 client_order_id_conflict")
    plan_id = serializers.IntegerField(required=False, allow_null=True)
    strategy_tag = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    factor_tag = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        direction, side = attrs.pop("direction", None), attrs.pop("side", None)
        if direction and side and direction != side:
            raise serializers.ValidationError({"direction": ["direction and side disagree."]})
        if not (direction or side):
            raise serializers.ValidationError({"direction": ["This field is required (BUY or SELL)."]})
        attrs["side"] = direction or side
        attrs["symbol"] = attrs["symbol"].strip().upper()
        return attrs


class GuardCheckSerializer(serializers.Serializer):
    rule = serializers.CharField()
    passed = serializers.BooleanField()
    detail = serializers.CharField()


class OrderPreviewSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    code = serializers.CharField(allow_blank=True)
    reason = serializers.CharField(allow_blank=True)
    checks = GuardCheckSerializer(many=True)
    warnings = GuardWarningSerializer(many=True)
    buying_power = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    reference_price = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    notional = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    equity = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    order_pct = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True,
                                        help_text="The exposure the order adds, in percent of equity")
    previous_close_equity = serializers.DecimalField(max_digits=20, decimal_places=2, allow_null=True)
    daily_pnl_pct = serializers.DecimalField(max_digits=12, decimal_places=4, allow_null=True,
                                             help_text="Equity vs the previous close, in percent")


class OrderRefusalSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()
    order = OrderSerializer()


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class FieldConflictSerializer(serializers.Serializer):
    existing = serializers.CharField(allow_null=True)
    requested = serializers.CharField(allow_null=True)


class ClientOrderIdConflictSerializer(ErrorSerializer):
    """409 ``client_order_id_conflict``: the id already names another order."""

    order_id = serializers.IntegerField(help_text="The order the client_order_id already names")
    conflicts = serializers.DictField(child=FieldConflictSerializer(), help_text="field -> {existing, requested}")


class PositionValuedSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    asset_type = serializers.CharField()
    underlying = serializers.CharField(allow_blank=True)
    quantity = serializers.DecimalField(max_digits=20, decimal_places=6)
    avg_cost = serializers.DecimalField(max_digits=20, decimal_places=6)
    price = serializers.DecimalField(max_digits=20, decimal_places=6)
    price_source = serializers.CharField()
    multiplier = serializers.IntegerField()
    market_value = serializers.DecimalField(max_digits=20, decimal_places=2)
    cost_basis = serializers.DecimalField(max_digits=20, decimal_places=2)
    unrealized_pnl = serializers.DecimalField(max_digits=20, decimal_places=2)
    realized_pnl = serializers.DecimalField(max_digits=20, decimal_places=2)
    option_right = serializers.CharField(allow_blank=True)
    strike = serializers.DecimalField(max_digits=20, decimal_places=6, allow_null=True)
    expiry = serializers.DateField(allow_null=True)


class PositionsSerializer(serializers.Serializer):
    account_id = serializers.IntegerField()
    cash = serializers.DecimalField(max_digits=20, decimal_places=2)
    market_value = serializers.DecimalField(max_digits=20, decimal_places=2)
    equity = serializers.DecimalField(max_digits=20, decimal_places=2)
    positions = PositionValuedSerializer(many=True)


class PlanSerializer(serializers.ModelSerializer):
    """TradingPlan CRUD. Users move a plan between PENDING and ACTIVE or cancel it; EXECUTED/EXPIRED are set by the system."""

    account_id = serializers.IntegerField(required=False, write_only=True, help_text="Defaults to your first account")
    status = serializers.ChoiceField(
        choices=TradingPlan.STATUSES, required=False,
        help_text="You may set PENDING, ACTIVE or CANCELLED; EXECUTED and EXPIRED are set by the system",
    )
    order_type = serializers.ChoiceField(choices=Order.TYPES, required=False)
    entry_price = serializers.DecimalField(**PRICE_FIELD, min_value=POSITIVE)
    stop_price = serializers.DecimalField(**PRICE_FIELD, min_value=POSITIVE, required=False, allow_null=True)
    target_price = serializers.DecimalField(**PRICE_FIELD, min_value=POSITIVE, required=False, allow_null=True)
    quantity = serializers.DecimalField(**PRICE_FIELD, min_value=POSITIVE)

    class Meta:
        model = TradingPlan
        fields = [
            "id", "account", "account_id", "symbol", "direction", "entry_price", "stop_price", "target_price", "quantity",
            "order_type", "status", "valid_until", "strategy_tag", "factor_tag", "signal", "notes", "executed_at",
            "created_at", "updated_at",
        ]
        read_only_fields = ["id", "account", "signal", "executed_at", "created_at", "updated_at"]

    def validate_symbol(self, value: str) -> str:
        return value.strip().upper()


class PlanExecuteResponseSerializer(serializers.Serializer):
    plan = PlanSerializer()
    order = OrderSerializer()


class ApprovalSerializer(serializers.ModelSerializer):
    """An approval request. ``order`` is the last order it sent: the placed one once APPROVED; while PENDING
    after a refused approval, the REJECTED one, with ``refusal_code``/``refusal_reason`` saying why."""

    plan = PlanSerializer(read_only=True)

    class Meta:
        model = ApprovalRequest
        fields = ["id", "account", "plan", "source", "reason", "status", "token", "order", "decided_via", "decided_at",
                  "refusal_code", "refusal_reason", "refused_at", "expires_at", "created_at"]
        read_only_fields = fields


class ApprovalRefusalSerializer(serializers.Serializer):
    """422: the approved plan's order was refused; the approval stays PENDING until it can execute or expires."""

    detail = serializers.CharField()
    code = serializers.CharField(help_text="The guard rule (e.g. outside_trading_hours) or broker_rejected")
    approval = ApprovalSerializer()
    order = OrderSerializer()


class ApprovalDecideSerializer(serializers.Serializer):
    approve = serializers.BooleanField()


class ExposurePositionSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    asset_type = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=20, decimal_places=6)
    underlying_price = serializers.DecimalField(max_digits=20, decimal_places=6)
    delta = serializers.DecimalField(max_digits=20, decimal_places=6)
    gamma = serializers.DecimalField(max_digits=20, decimal_places=6)
    vega = serializers.DecimalField(max_digits=20, decimal_places=6)
    theta = serializers.DecimalField(max_digits=20, decimal_places=6)
    delta_dollars = serializers.DecimalField(max_digits=20, decimal_places=2)
    gamma_dollars = serializers.DecimalField(max_digits=20, decimal_places=2)
    vega_dollars = serializers.DecimalField(max_digits=20, decimal_places=2)
    theta_dollars = serializers.DecimalField(max_digits=20, decimal_places=2)


class ExposureSerializer(serializers.Serializer):
    equity = serializers.DecimalField(max_digits=20, decimal_places=2)
    delta_pct = serializers.DecimalField(max_digits=20, decimal_places=4)
    gamma_pct = serializers.DecimalField(max_digits=20, decimal_places=4)
    vega_pct = serializers.DecimalField(max_digits=20, decimal_places=4)
    theta_pct = serializers.DecimalField(max_digits=20, decimal_places=4)
    delta_dollars = serializers.DecimalField(max_digits=20, decimal_places=2)
    gamma_dollars = serializers.DecimalField(max_digits=20, decimal_places=2)
    vega_dollars = serializers.DecimalField(max_digits=20, decimal_places=2)
    theta_dollars = serializers.DecimalField(max_digits=20, decimal_places=2)
    positions = ExposurePositionSerializer(many=True)
    unpriced = serializers.ListField(child=serializers.CharField())


class _MarketTime(serializers.DateTimeField):
    """A datetime in the market's time zone (America/New_York), with its UTC offset."""

    def __init__(self, **kwargs):
        super().__init__(default_timezone=ZoneInfo(settings.MARKET_TIME_ZONE), read_only=True, **kwargs)


class MarketSessionSerializer(serializers.Serializer):
    """``GET /api/v1/market/session``: where the NYSE is now, and whether this app accepts orders."""

    state = serializers.ChoiceField(choices=["pre_market", "open", "after_hours", "closed"])
    label = serializers.CharField(help_text="Pre-market, Open, After-hours or Closed")
    detail = serializers.CharField(help_text="The state in a sentence, e.g. 'Pre-market: the regular session opens at 09:30 ET.'")
    time_zone = serializers.CharField(help_text="America/New_York: every time below carries its ET offset")
    now = _MarketTime(source="at")
    session_date = serializers.DateField(source="session", allow_null=True, help_text="Today's session; null on a weekend or holiday")
    opens_at = _MarketTime(allow_null=True, help_text="Today's regular open")
    closes_at = _MarketTime(allow_null=True, help_text="Today's regular close (13:00 ET on a half day)")
    early_close = serializers.BooleanField(help_text="Today is a half day")
    holiday = serializers.CharField(allow_null=True, help_text="The NYSE holiday today, by name")
    next_open = _MarketTime(help_text="The next regular open (today's while it is still to come)")
    next_close = _MarketTime(help_text="The next regular close")
    next_session_early_close = serializers.BooleanField(help_text="The session of next_open is a half day")
    changes_at = _MarketTime(help_text="When the state changes next (pre-market 04:00 ET, open, close, after-hours end)")
    orders_accepted = serializers.BooleanField(help_text="Orders pass the trading-hours rule now")
    orders_detail = serializers.CharField()


class FillsImportSerializer(serializers.Serializer):
    """``POST /api/v1/orders/import-fills`` (multipart/form-data): a broker's trade history and how to read it."""

    file = serializers.FileField(allow_empty_file=True, help_text="The broker's file (at most IMPORT_FILLS_MAX_BYTES)")
    format = serializers.ChoiceField(choices=FORMATS,
                                     help_text="alpaca: GET /v2/account/activities/FILL as JSON; ibkr-flex: a Flex "
                                               "Query's trades section as CSV; csv: executed_at,symbol,side,quantity,"
                                               "price,commission,execution_id")
    account_id = FormIntegerField(required=False, min_value=-(2**63), max_value=2**63 - 1,
                                  help_text="One of your accounts (default: the first)")
    dry_run = FormBooleanField(required=False, default=False,
                               help_text="true: check and count everything, write nothing")


class RowNoteSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="The line of the file (1 is the first)")
    message = serializers.CharField()


class FillsImportReportSerializer(serializers.Serializer):
    """What an import did (or, in a dry run, would do), line by line."""

    status = serializers.ChoiceField(choices=IMPORT_STATUSES)
    detail = serializers.CharField(help_text="The outcome in a sentence")
    format = serializers.CharField()
    account_id = serializers.IntegerField()
    account_code = serializers.CharField()
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField(help_text="Data rows read")
    executions = serializers.IntegerField(help_text="US-stock executions among them")
    imported = serializers.IntegerField(help_text="Executions booked now")
    duplicates = serializers.IntegerField(help_text="Executions already in the ledger (same execution id), not booked again")
    orders_created = serializers.IntegerField(help_text="New orders with source BROKER")
    instruments_created = serializers.ListField(child=serializers.CharField(), help_text="Symbols that were unknown")
    symbols = serializers.ListField(child=serializers.CharField(), help_text="Symbols of the executions booked")
    first_executed_at = serializers.DateTimeField(allow_null=True)
    last_executed_at = serializers.DateTimeField(allow_null=True)
    positions_replayed = serializers.ListField(
        child=serializers.CharField(), help_text="Symbols whose position was replayed in execution order (older executions)")
    skipped = RowNoteSerializer(many=True, help_text="Rows left out on purpose (options, forex, summary lines, ...)")
    errors = RowNoteSerializer(many=True, help_text="Bad rows: any one of them and nothing is imported")


class FillsImportRefusalSerializer(FillsImportReportSerializer):
    """A file with bad rows: nothing was imported; ``errors`` names each line."""

    code = serializers.CharField(help_text="import_refused")


class BrokerMismatchSerializer(serializers.ModelSerializer):
    """A difference reconciliation found between AlphaLoop's books (``ours``) and the broker's (``theirs``)."""

    class Meta:
        model = BrokerMismatch
        fields = ["id", "account", "kind", "symbol", "ours", "theirs", "action", "detected_at", "resolved_at"]
        read_only_fields = fields


class BrokerMismatchQuerySerializer(serializers.Serializer):
    account_id = serializers.IntegerField(required=False, help_text="One of your accounts (default: all of them)")
    open = serializers.BooleanField(required=False, allow_null=True, default=None,
                                    help_text="true: only unresolved mismatches; false: only resolved ones")
