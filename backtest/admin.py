from django.contrib import admin

from alphaloop.admin import AuditedModelAdmin
from backtest.models import BacktestRun, WalkForwardRun, WalkForwardWindow


@admin.register(BacktestRun)
class BacktestRunAdmin(AuditedModelAdmin):
    list_display = ("id", "user", "strategy_id", "start_date", "end_date", "status", "progress", "created_at")
    list_filter = ("status", "strategy_id")
    search_fields = ("strategy_id", "user__username", "error")
    list_select_related = ("user",)
    readonly_fields = ("metrics", "equity_curve", "trades", "open_trades", "error", "task_id")


class WalkForwardWindowInline(admin.TabularInline):
    model = WalkForwardWindow
    extra = 0
    can_delete = False
    fields = ("index", "train_start", "train_end", "test_start", "test_end", "status", "error")
    readonly_fields = fields


@admin.register(WalkForwardRun)
class WalkForwardRunAdmin(AuditedModelAdmin):
    list_display = ("id", "user", "strategy_id", "start_date", "end_date", "objective", "status", "windows_done",
                    "windows_total", "created_at")
    list_filter = ("status", "strategy_id", "objective")
    search_fields = ("strategy_id", "user__username", "error")
    list_select_related = ("user",)
    readonly_fields = ("combinations", "skipped", "result", "error")
    inlines = [WalkForwardWindowInline]
