from django.apps import AppConfig


class EquityConfig(AppConfig):
    name = "equity"
    verbose_name = "Equity"

    def ready(self) -> None:
        from equity.receivers import on_fill_recorded, on_fills_imported
        from orders.signals import fill_recorded, fills_imported

        fill_recorded.connect(on_fill_recorded, dispatch_uid="equity.attribution")
        fills_imported.connect(on_fills_imported, dispatch_uid="equity.history")
