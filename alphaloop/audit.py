"""The one audit service: every state change writes a row here."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

from alphaloop.models import AuditLog
from alphaloop.net import client_ip
from alphaloop.versions import user_version, version_bump

SECRET_KEYS = {"password", "token", "access", "refresh", "secret", "api_key", "ticket"}


def _clean(payload: Any) -> Any:
    """JSON-safe copy of ``payload`` with secrets masked."""
    if payload is None:
        return None
    text = json.dumps(payload, cls=DjangoJSONEncoder, default=str)
    data = json.loads(text, parse_float=Decimal)
    return json.loads(json.dumps(_mask(data), cls=DjangoJSONEncoder))


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("***" if str(k).lower() in SECRET_KEYS else _mask(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def audit_log_create(
    *,
    action: str,
    resource: str,
    user=None,
    payload: Any = None,
    request=None,
    ip_address: str | None = None,
) -> AuditLog:
    """Record who did what to which resource. ``request`` supplies the user and client IP when given."""
    if request is not None:
        if user is None and getattr(request, "user", None) is not None and request.user.is_authenticated:
            user = request.user
        ip_address = ip_address or client_ip(request)
    user = user if user is not None and getattr(user, "pk", None) else None
    if user is not None:
        version_bump(user_version(user.pk))  # the user's cached reads (dashboard summary) are stale now
    return AuditLog.objects.create(
        user=user,
        action=action[:64],
        resource=resource[:128],
        payload=_clean(payload),
        ip_address=ip_address,
    )
