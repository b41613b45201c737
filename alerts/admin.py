from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone

from alerts.models import AlertHistory, PriceAlert
from alerts.services import alert_fields_validate, alert_update
from alphaloop.admin import AuditedModelAdmin
from alphaloop.net import client_ip
from marketdata.models import Instrument


class PriceAlertAdminForm(forms.ModelForm):
    """The same rules as the API (``alert_fields_validate``), so the admin cannot store a nonsense alert."""

    class Meta:
        model = PriceAlert
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        account = cleaned.get("account")
        if account is None or self.errors:
            return cleaned
        symbol = (cleaned.get("symbol") or "").strip().upper()
        status = self.instance.alert_status if self.instance.pk else PriceAlert.ACTIVE
        try:
            fields = alert_fields_validate(
                account=account, symbol=symbol, condition_type=cleaned.get("condition_type"),
                threshold=cleaned.get("threshold"), direction=cleaned.get("direction") or "",
                action=cleaned.get("action"), linked_plan=cleaned.get("linked_plan"),
                expires_at=cleaned.get("expires_at"), armed=status in (PriceAlert.ACTIVE, PriceAlert.PAUSED),
                now=timezone.now(), check_expiry="expires_at" in self.changed_data,
                symbol_known=Instrument.objects.filter(symbol=symbol).exists(),
            )
        except ValidationError as exc:
            raise ValidationError({"linked_plan" if k == "linked_plan_id" else k: v
                                   for k, v in exc.message_dict.items()}) from None
        cleaned.update(fields, symbol=symbol)
        return cleaned


@admin.register(PriceAlert)
class PriceAlertAdmin(AuditedModelAdmin):
    form = PriceAlertAdminForm
    list_display = ("id", "account", "symbol", "condition_type", "direction", "threshold", "action", "alert_status", "triggered_at")
    list_filter = ("alert_status", "condition_type", "action")
    search_fields = ("symbol", "account__code", "note")
    list_select_related = ("account", "linked_plan")
    # Status changes go through alert_update (row lock, allowed transitions) via the actions.
    readonly_fields = ("alert_status", "triggered_at", "created_at", "updated_at")
    actions = ("pause_alerts", "activate_alerts")

    def _move(self, request, queryset, status: str) -> None:
        moved, refused = 0, []
        for alert in queryset:
            try:
                alert_update(alert=alert, alert_status=status, user=request.user, ip_address=client_ip(request))
                moved += 1
            except ValidationError as exc:
                refused.append(f"#{alert.pk}: {'; '.join(m for ms in exc.message_dict.values() for m in ms)}")
        if moved:
            self.message_user(request, f"{moved} alert(s) now {status}.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not changed: " + " | ".join(refused), messages.ERROR)

    @admin.action(description="Pause the selected alerts")
    def pause_alerts(self, request, queryset):
        self._move(request, queryset, PriceAlert.PAUSED)

    @admin.action(description="Activate (or re-arm) the selected alerts")
    def activate_alerts(self, request, queryset):
        self._move(request, queryset, PriceAlert.ACTIVE)


@admin.register(AlertHistory)
class AlertHistoryAdmin(admin.ModelAdmin):
    list_display = ("trigger_time", "account", "symbol", "trigger_price", "notification_sent", "action_taken")
    list_filter = ("notification_sent", "action_taken")
    search_fields = ("symbol", "account__code")
    list_select_related = ("account", "alert")
    date_hierarchy = "trigger_time"

    def has_change_permission(self, request, obj=None):
        return False
