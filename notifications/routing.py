from django.urls import path

from notifications.consumers import TradingConsumer

websocket_urlpatterns = [
    path("ws/trading", TradingConsumer.as_asgi(), name="ws-trading"),
]
