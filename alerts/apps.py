from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        from alerts.approvals import telegram_approve, telegram_reject
        from alerts.services import alerts_on_tick
        from marketdata.pipeline import tick_listener_register
        from notifications.telegram import telegram_command_register

        tick_listener_register("alerts.engine", alerts_on_tick)
        telegram_command_register("approve", telegram_approve)
        telegram_command_register("reject", telegram_reject)
