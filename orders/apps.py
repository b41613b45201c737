from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders & accounts"

    def ready(self) -> None:
        from django.conf import settings
        from django.db.models.signals import post_save

        from alphaloop import bus
        from alphaloop.events import MarketDataStale, PriceTicks
        from marketdata.watch import symbol_source_register
        from orders.accounts import account_on_user_created
        from orders.brokers import real_broker_check
        from orders.brokers.paper import paper_on_ticks
        from orders.market_data import market_data_stale_warn, orders_watched_symbols

        # ORDER_MODE=REAL refuses to start without a real broker adapter (ImproperlyConfigured).
        real_broker_check()
        bus.subscribe(PriceTicks, "orders.resting", paper_on_ticks, background=True)
        # Every user trades through a paper account from the moment they exist.
        post_save.connect(account_on_user_created, sender=settings.AUTH_USER_MODEL, dispatch_uid="orders.user_account")
        bus.subscribe(MarketDataStale, "orders.stale_feed", market_data_stale_warn)
        symbol_source_register("orders", orders_watched_symbols)
