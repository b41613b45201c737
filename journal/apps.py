from django.apps import AppConfig


class JournalConfig(AppConfig):
    name = "journal"
    verbose_name = "Journal"

    def ready(self) -> None:
        from equity.signals import trade_closed
        from journal.receivers import on_trade_closed

        trade_closed.connect(on_trade_closed, dispatch_uid="journal.draft")
