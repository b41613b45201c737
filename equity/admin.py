from django.contrib import admin

from alphaloop.admin import AuditedModelAdmin
from equity.models import EquitySnapshot, TradePnlAttribution


@admin.register(EquitySnapshot)
class EquitySnapshotAdmin(AuditedModelAdmin):
    list_display = ("account", "snapshot_date", "total_equity", "cash", "market_value", "daily_return", "cumulative_return", "max_drawdown", "benchmark_return")
    list_filter = ("account",)
    search_fields = ("account__code",)
    list_select_related = ("account",)
    date_hierarchy = "snapshot_date"


@admin.register(TradePnlAttribution)
class TradePnlAttributionAdmin(AuditedModelAdmin):
    list_display = ("account", "symbol", "trade_date", "direction", "quantity", "entry_price", "exit_price", "realized_pnl", "holding_days", "strategy_tag")
    list_filter = ("direction", "strategy_tag", "factor_tag")
    search_fields = ("symbol", "account__code")
    list_select_related = ("account", "plan")
    date_hierarchy = "trade_date"
