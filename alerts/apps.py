from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from alerts.approvals import chat_command_answer
        from alerts.selectors import alerts_watched_symbols
        from alerts.services import alert_notification_record, alerts_on_ticks
        from alphaloop import bus
        from alphaloop.events import ChatCommand, NotificationSent, PriceTicks
        from marketdata.watch import symbol_source_register

        bus.subscribe(PriceTicks, "alerts.engine", alerts_on_ticks, background=True)
        bus.subscribe(NotificationSent, "alerts.history", alert_notification_record)
        bus.subscribe(ChatCommand, "alerts.approvals", chat_command_answer)
        symbol_source_register("alerts", alerts_watched_symbols)
