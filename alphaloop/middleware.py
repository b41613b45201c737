"""Middleware of every request: security headers on every response, and an unreachable backing
service turned into a clear 503 for every page and API, never a 500.

- the database (``OperationalError``/``InterfaceError``): ``database_unavailable``;
- Redis used as the cache (throttling, WebSocket tickets): ``redis_unavailable``;
- the Celery broker (queueing a task): ``queue_unavailable``.

API paths get JSON ``{"detail", "code"}``; pages get a short HTML page. Both carry
``Retry-After``. Each outage ends by itself: every request tries the service again.
"""

from __future__ import annotations

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.utils.html import escape
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "5"
OUTAGES: tuple[tuple[tuple[type[BaseException], ...], str, str], ...] = (
    ((OperationalError, InterfaceError), "database_unavailable", "The database is unavailable; try again shortly."),
    ((RedisConnectionError, RedisTimeoutError), "redis_unavailable",
     "Redis is unavailable, so this feature is degraded (live updates, WebSocket tickets, rate limits); "
     "try again shortly."),
    ((BrokerError,), "queue_unavailable",
     "The task queue is unavailable (the Celery broker does not answer); nothing was queued. Try again shortly."),
)


def service_unavailable(request, code: str, detail: str) -> HttpResponse:
    headers = {"Retry-After": RETRY_AFTER_SECONDS}
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail, "code": code}, status=503, headers=headers)
    page = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Service unavailable</title></head>"
            f"<body><h1>Service unavailable</h1><p>{escape(detail)}</p></body></html>")
    return HttpResponse(page, status=503, headers=headers)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        for types, code, detail in OUTAGES:
            if isinstance(exception, types):
                logger.error("%s on %s: %s", code, request.path, exception)
                return service_unavailable(request, code, detail)
        return None


# --- security headers ------------------------------------------------------------------------------

# The one inline style the pages need: the attribution logo's <style> that the vendored
# lightweight-charts inserts (static/vendor/lightweight-charts; a test recomputes the hash from it).
CHART_ATTRIBUTION_STYLE_HASH = "'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='"
# HTML pages: scripts and styles only from our own static files (no inline code), the live socket.
HTML_CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    f"style-src 'self' {CHART_ATTRIBUTION_STYLE_HASH}",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self' ws: wss:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# Anything else under /api/ is data: it may load nothing and be framed by nobody.
API_CSP = "default-src 'none'; frame-ancestors 'none'"


class SecurityHeadersMiddleware:
    """The headers Django has no setting for: a Content-Security-Policy on every response (the page
    policy on HTML, a deny-all one on API data) and ``Cache-Control: no-store`` on every API response,
    so tokens and account data never sit in a browser or proxy cache.

    ``SecurityMiddleware`` adds nosniff, Referrer-Policy, Cross-Origin-Opener-Policy (and HSTS over
    HTTPS); ``XFrameOptionsMiddleware`` adds ``X-Frame-Options: DENY``.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        is_html = response.get("Content-Type", "").startswith("text/html")
        if is_html:
            response.setdefault("Content-Security-Policy", HTML_CSP)
        if request.path.startswith("/api/"):
            response["Cache-Control"] = "no-store"
            response.setdefault("Content-Security-Policy", API_CSP)
        return response
