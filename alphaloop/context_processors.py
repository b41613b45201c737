from django.conf import settings


def app_settings(request):
    context = {"ORDER_MODE": settings.ORDER_MODE, "WS_HEARTBEAT_SECONDS": settings.WS_HEARTBEAT_SECONDS}
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        from orders.selectors import trading_venue

        context["TRADING_VENUE"] = trading_venue(user.accounts.order_by("id").first())
    return context
