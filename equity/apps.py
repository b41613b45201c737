from django.apps import AppConfig


class EquityConfig(AppConfig):
    name = "equity"
    verbose_name = "Equity"

    def ready(self) -> None:
        from alphaloop import bus
        from alphaloop.events import FillRecorded, FillsImported
        from equity.receivers import on_fill_recorded, on_fills_imported

        bus.subscribe(FillRecorded, "equity.attribution", on_fill_recorded)
        bus.subscribe(FillsImported, "equity.history", on_fills_imported, in_transaction=True)
