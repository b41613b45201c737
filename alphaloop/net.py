"""Client IP resolution that trusts X-Forwarded-For only from configured proxies."""

from __future__ import annotations

import ipaddress

from django.conf import settings


def is_trusted_proxy(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in settings.TRUSTED_PROXIES)


def client_ip(request) -> str | None:
    """The caller's IP. X-Forwarded-For is honoured only when the direct peer is a trusted proxy.

    The header is read right to left, skipping trusted proxies, so a client cannot
    spoof its address by sending its own X-Forwarded-For.
    """
    remote = request.META.get("REMOTE_ADDR") or None
    if remote is None or not is_trusted_proxy(remote):
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    for address in reversed(forwarded):
        if not is_trusted_proxy(address):
            try:
                return str(ipaddress.ip_address(address))
            except ValueError:
                return remote
    return remote
