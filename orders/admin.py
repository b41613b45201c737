from django.contrib import admin, messages

from alphaloop.admin import AuditedModelAdmin
from alphaloop.exceptions import ApplicationError
from alphaloop.money import money
from alphaloop.net import client_ip
from orders.cancellation import order_cancel
from orders.models import Account, ApprovalRequest, BrokerMismatch, BrokerSync, Fill, Order, Position, TradingPlan
from orders.risk import account_trading_state_set, breaker_reset


@admin.register(Account)
class AccountAdmin(AuditedModelAdmin):
    list_display = ("code", "user", "cash", "realized_pnl", "trading_state", "breaker_session", "is_paper")
    list_filter = ("trading_state", "is_paper", "allow_short")
    search_fields = ("code", "name", "user__username")
    list_select_related = ("user",)
    readonly_fields = ("breaker_session", "breaker_tripped_at", "breaker_override_session")
    actions = ["reset_daily_loss_breaker", "set_trading_state_active", "set_trading_state_reducing", "set_trading_state_halted"]

    @admin.action(description="Reset daily-loss breaker")
    def reset_daily_loss_breaker(self, request, queryset):
        """Lift a tripped breaker early (audited); it does not trip again for the rest of this session."""
        ip = client_ip(request)
        reset = [a.code for a in queryset if breaker_reset(account=a, user=request.user, ip_address=ip)]
        skipped = queryset.count() - len(reset)
        if reset:
            self.message_user(request, f"Breaker reset for {', '.join(reset)}.", messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{skipped} account(s) had no tripped breaker.", messages.WARNING)

    def _set_trading_state(self, request, queryset, state: str) -> None:
        """Switch through the service: one ``account.trading_state`` audit row per account that changed."""
        ip = client_ip(request)
        changed = [a.code for a in queryset if account_trading_state_set(account=a, state=state, user=request.user, ip_address=ip)]
        unchanged = queryset.count() - len(changed)
        if changed:
            self.message_user(request, f"Trading state set to {state} for {', '.join(changed)}.", messages.SUCCESS)
        if unchanged:
            self.message_user(request, f"{unchanged} account(s) were already {state}.", messages.WARNING)

    @admin.action(description="Set trading state: ACTIVE")
    def set_trading_state_active(self, request, queryset):
        self._set_trading_state(request, queryset, Account.ACTIVE)

    @admin.action(description="Set trading state: REDUCING (only orders that shrink a position)")
    def set_trading_state_reducing(self, request, queryset):
        self._set_trading_state(request, queryset, Account.REDUCING)

    @admin.action(description="Set trading state: HALTED (only cancels)")
    def set_trading_state_halted(self, request, queryset):
        self._set_trading_state(request, queryset, Account.HALTED)


@admin.register(Position)
class PositionAdmin(AuditedModelAdmin):
    list_display = ("account", "symbol", "asset_type", "quantity", "avg_cost", "realized_pnl", "expiry", "strike")
    list_filter = ("asset_type", "option_right")
    search_fields = ("symbol", "underlying", "account__code")
    list_select_related = ("account",)
    readonly_fields = ("cost_basis",)

    def save_model(self, request, obj, form, change):
        """A position edited by hand gets the cost basis its quantity and average cost imply."""
        if not change or {"quantity", "avg_cost", "multiplier"} & set(form.changed_data):
            obj.cost_basis = money(obj.quantity * obj.avg_cost * obj.multiplier)
        super().save_model(request, obj, form, change)


@admin.register(TradingPlan)
class TradingPlanAdmin(AuditedModelAdmin):
    list_display = ("id", "account", "symbol", "direction", "entry_price", "stop_price", "target_price", "quantity", "status", "valid_until")
    list_filter = ("status", "direction", "strategy_tag")
    search_fields = ("symbol", "account__code", "strategy_tag", "factor_tag")
    list_select_related = ("account",)


class FillInline(admin.TabularInline):
    model = Fill
    extra = 0
    can_delete = False
    readonly_fields = ("symbol", "side", "quantity", "price", "commission", "realized_pnl", "executed_at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(AuditedModelAdmin):
    list_display = ("id", "account", "symbol", "side", "order_type", "quantity", "limit_price", "status", "reject_code", "source", "created_at")
    list_filter = ("status", "side", "order_type", "source", "reject_code")
    search_fields = ("symbol", "client_order_id", "account__code")
    list_select_related = ("account",)
    date_hierarchy = "created_at"
    inlines = [FillInline]
    actions = ["cancel_orders"]

    @admin.action(description="Cancel selected open orders")
    def cancel_orders(self, request, queryset):
        ip = client_ip(request)
        cancelled, refused = 0, []
        for order in queryset:
            try:
                order_cancel(order=order, user=request.user, ip_address=ip)
                cancelled += 1
            except ApplicationError as exc:
                refused.append(f"#{order.pk}: {exc.message}")
        if cancelled:
            self.message_user(request, f"Cancelled {cancelled} order(s).", messages.SUCCESS)
        for line in refused:
            self.message_user(request, line, messages.WARNING)

    def has_change_permission(self, request, obj=None):
        return False  # orders change only through the order path

    def has_add_permission(self, request):
        return False


@admin.register(Fill)
class FillAdmin(admin.ModelAdmin):
    list_display = ("executed_at", "account", "symbol", "side", "quantity", "price", "commission", "realized_pnl")
    list_filter = ("side",)
    search_fields = ("symbol", "account__code")
    list_select_related = ("account", "order")

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(AuditedModelAdmin):
    list_display = ("id", "account", "plan", "source", "status", "decided_via", "created_at")
    list_filter = ("status", "decided_via")
    search_fields = ("source", "account__code", "token")
    list_select_related = ("account", "plan")


@admin.register(BrokerMismatch)
class BrokerMismatchAdmin(admin.ModelAdmin):
    """Differences reconciliation found between the books and the broker: a record, never edited by hand."""

    list_display = ("detected_at", "account", "kind", "symbol", "ours", "theirs", "action", "resolved_at")
    list_filter = ("kind", "action", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("symbol", "account__code")
    list_select_related = ("account",)
    date_hierarchy = "detected_at"

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(BrokerSync)
class BrokerSyncAdmin(admin.ModelAdmin):
    """What the broker said at the last reconciliation of each account."""

    list_display = ("account", "broker", "connected", "last_success_at", "last_attempt_at", "cash", "equity", "last_error")
    list_select_related = ("account",)

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False
