from django.contrib import admin

from alphaloop.admin import AuditedModelAdmin
from backtest.models import BacktestRun


@admin.register(BacktestRun)
class BacktestRunAdmin(AuditedModelAdmin):
    list_display = ("id", "user", "strategy_id", "start_date", "end_date", "status", "progress", "created_at")
    list_filter = ("status", "strategy_id")
    search_fields = ("strategy_id", "user__username", "error")
    list_select_related = ("user",)
    readonly_fields = ("metrics", "equity_curve", "trades", "open_trades", "error", "task_id")
