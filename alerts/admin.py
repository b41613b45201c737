from django.contrib import admin

from alerts.models import AlertHistory, PriceAlert
from alphaloop.admin import AuditedModelAdmin


@admin.register(PriceAlert)
class PriceAlertAdmin(AuditedModelAdmin):
    list_display = ("id", "account", "symbol", "condition_type", "direction", "threshold", "action", "alert_status", "triggered_at")
    list_filter = ("alert_status", "condition_type", "action")
    search_fields = ("symbol", "account__code", "note")
    list_select_related = ("account", "linked_plan")


@admin.register(AlertHistory)
class AlertHistoryAdmin(admin.ModelAdmin):
    list_display = ("trigger_time", "account", "symbol", "trigger_price", "notification_sent", "action_taken")
    list_filter = ("notification_sent", "action_taken")
    search_fields = ("symbol", "account__code")
    list_select_related = ("account", "alert")
    date_hierarchy = "trigger_time"

    def has_change_permission(self, request, obj=None):
        return False
