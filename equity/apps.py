from django.apps import AppConfig


class EquityConfig(AppConfig):
    name = "equity"
    verbose_name = "Equity"

    def ready(self) -> None:
        from equity.receivers import on_fill_recorded
        from orders.signals import fill_recorded

        fill_recorded.connect(on_fill_recorded, dispatch_uid="equity.attribution")
