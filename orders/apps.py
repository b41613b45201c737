from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders & accounts"

    def ready(self) -> None:
        from marketdata.pipeline import tick_listener_register
        from orders.brokers import real_broker_check
        from orders.brokers.paper import paper_on_tick

        # ORDER_MODE=REAL refuses to start without a real broker adapter (ImproperlyConfigured).
        real_broker_check()
        tick_listener_register("orders.resting", paper_on_tick)
