from django.conf import settings


def app_settings(request):
    return {"ORDER_MODE": settings.ORDER_MODE, "WS_HEARTBEAT_SECONDS": settings.WS_HEARTBEAT_SECONDS}
