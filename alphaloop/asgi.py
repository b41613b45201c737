"""ASGI entry point: HTTP through Django, WebSocket /ws/trading through Channels.

WebSockets pass the Origin check (scheme, host and port of the site itself or of a
CSRF_TRUSTED_ORIGINS entry; browsers always send Origin, other clients must send one too, e.g.
``Origin: http://127.0.0.1:8000``), then the JWT query-string authentication, then the URL router.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alphaloop.settings")
django_asgi_app = get_asgi_application()

from alphaloop.contract import warm_up  # noqa: E402

warm_up()  # the API schema and request contracts, built before the first request (thread-safe either way)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from notifications.routing import websocket_urlpatterns  # noqa: E402
from notifications.ws_auth import JwtQueryStringAuthMiddleware, SameOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(JwtQueryStringAuthMiddleware(URLRouter(websocket_urlpatterns))),
    }
)
