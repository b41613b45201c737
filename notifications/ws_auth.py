"""Authentication for WebSockets: ``/ws/trading?token=<JWT access token or ws ticket>``.

Browsers cannot set an Authorization header on a WebSocket, so the credential travels in the
query string: either a JWT access token, or (preferred, see ``alphaloop.ws_tickets``) a
single-use ticket from ``POST /api/v1/auth/ws-ticket`` that keeps long-lived tokens out of
URLs. The middleware only resolves ``scope["user"]`` (AnonymousUser when the credential is
missing, malformed, expired, already used or of a deactivated user); the consumer closes
with 4401.

Before any of that, ``SameOriginValidator`` refuses the handshake unless the Origin header names
this site exactly (scheme, host and port; see ``origin_allowed``).
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from alphaloop.net import is_trusted_proxy
from alphaloop.ws_tickets import TICKET_PREFIX, ws_ticket_redeem

logger = logging.getLogger(__name__)


def query_param(scope: dict, name: str) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin1")).get(name)
    return values[0] if values else None


def user_from_token(raw: str | None):
    """The active user a ws ticket or an access token names, or AnonymousUser."""
    if not raw:
        return AnonymousUser()
    if raw.startswith(TICKET_PREFIX):
        user_id = ws_ticket_redeem(raw)
        if user_id is None:
            logger.info("websocket ticket refused: unknown, expired or already used")
            return AnonymousUser()
        lookup = {"pk": user_id}
    else:
        try:
            lookup = {api_settings.USER_ID_FIELD: AccessToken(raw)[api_settings.USER_ID_CLAIM]}
        except (TokenError, KeyError) as exc:
            logger.info("websocket token refused: %s", exc)
            return AnonymousUser()
    return get_user_model().objects.filter(**lookup, is_active=True).first() or AnonymousUser()


class JwtQueryStringAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        scope = dict(scope)
        scope["user"] = await database_sync_to_async(user_from_token)(query_param(scope, "token"))
        return await super().__call__(scope, receive, send)


DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]  # (scheme, host, port), lower-case, the port made explicit


def _origin(url: str) -> Origin | None:
    try:
        parts = urlsplit(url.strip().lower())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def _header(scope: dict, name: bytes) -> str:
    return next((value.decode("latin1") for key, value in scope.get("headers", []) if key == name), "")


def _site_origin(scope: dict) -> Origin | None:
    """The origin of the page this socket belongs to: its Host (one of ALLOWED_HOSTS) with http, or
    https when the socket is wss or a TRUSTED_PROXIES peer says it terminated TLS."""
    host = _header(scope, b"host")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    client = (scope.get("client") or [None])[0]
    secure = scope.get("scheme") == "wss" or (
        client is not None and is_trusted_proxy(client) and _header(scope, b"x-forwarded-proto").lower() == "https")
    return _origin(f"{'https' if secure else 'http'}://{host}")


def origin_allowed(scope: dict) -> bool:
    """Whether the socket's Origin is the site's own origin or one of CSRF_TRUSTED_ORIGINS, compared
    by scheme, host and port (a default port counts as written)."""
    origin = _origin(_header(scope, b"origin"))
    if origin is None:
        return False
    if origin == _site_origin(scope):
        return True
    return any(origin == _origin(trusted) for trusted in settings.CSRF_TRUSTED_ORIGINS)


class SameOriginValidator:
    """Refuses the WebSocket handshake (HTTP 403) unless ``origin_allowed``: a page elsewhere cannot
    open a socket with a visitor's credentials."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if origin_allowed(scope):
            return await self.application(scope, receive, send)
        logger.info("websocket refused: origin %r is not this site's", _header(scope, b"origin")[:100])
        return await WebsocketDenier()(scope, receive, send)
