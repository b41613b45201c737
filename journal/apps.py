from django.apps import AppConfig


class JournalConfig(AppConfig):
    name = "journal"
    verbose_name = "Journal"

    def ready(self) -> None:
        from alphaloop import bus
        from alphaloop.events import TradeClosed
        from journal.receivers import on_trade_closed

        bus.subscribe(TradeClosed, "journal.draft", on_trade_closed, in_transaction=True)
