"""Authentication for WebSockets: ``/ws/trading?token=<JWT access token or ws ticket>``.

Browsers cannot set an Authorization header on a WebSocket, so the credential travels in the
query string: either a JWT access token, or (preferred, see ``alphaloop.ws_tickets``) a
single-use ticket from ``POST /api/v1/auth/ws-ticket`` that keeps long-lived tokens out of
URLs. The middleware only resolves ``scope["user"]`` (AnonymousUser when the credential is
missing, malformed, expired, already used or of a deactivated user); the consumer closes
with 4401.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

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
