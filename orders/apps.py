from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "orders"
    verbose_name = "Orders & accounts"

    def ready(self) -> None:
        from alphaloop import bus
        from alphaloop.events import PriceTicks
        from orders.brokers import real_broker_check
        from orders.brokers.paper import paper_on_ticks

        # ORDER_MODE=REAL refuses to start without a real broker adapter (ImproperlyConfigured).
        real_broker_check()
        bus.subscribe(PriceTicks, "orders.resting", paper_on_ticks, background=True)
