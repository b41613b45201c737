from django.contrib import admin

from alphaloop.admin import AuditedModelAdmin
from orders.models import Account, ApprovalRequest, Fill, Order, Position, TradingPlan


@admin.register(Account)
class AccountAdmin(AuditedModelAdmin):
    list_display = ("code", "user", "cash", "realized_pnl", "trading_state", "breaker_session", "is_paper")
    list_filter = ("trading_state", "is_paper", "allow_short")
    search_fields = ("code", "name", "user__username")
    list_select_related = ("user",)


@admin.register(Position)
class PositionAdmin(AuditedModelAdmin):
    list_display = ("account", "symbol", "asset_type", "quantity", "avg_cost", "realized_pnl", "expiry", "strike")
    list_filter = ("asset_type", "option_right")
    search_fields = ("symbol", "underlying", "account__code")
    list_select_related = ("account",)


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
