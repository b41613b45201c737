"""Authentication endpoints and hooks: JWT token pair, login audit, lockout responses."""

from __future__ import annotations

import functools
import logging
import math

from django.conf import settings
from django.contrib.auth import signals
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from alphaloop.audit import audit_log_create
from alphaloop.net import client_ip
from alphaloop.openapi import ErrorSerializer
from alphaloop.ws_tickets import ws_ticket_issue

logger = logging.getLogger(__name__)


class LoginRateThrottle(AnonRateThrottle):
    """Per-IP rate limit (LOGIN_THROTTLE_RATE) on every credential endpoint, on top of django-axes'
    per-username lockout: the token endpoints, the browser login and the admin login draw on one
    budget per client IP. The IP is the audit log's (``alphaloop.net.client_ip``): X-Forwarded-For
    counts only from a TRUSTED_PROXIES peer, so a forged header cannot buy a fresh budget."""

    scope = "login"

    def get_ident(self, request) -> str:
        return client_ip(request) or ""

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view) -> bool:
        """Fail open when the cache (Redis) is down: the lockout (in the database) still guards the
        passwords, and a trader whose 5-minute token expires mid-outage can still sign in again."""
        try:
            return super().allow_request(request, view)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            logger.warning("login throttle unavailable (%s): allowing the request, the lockout still applies", exc)
            return True


LOCKED_OUT = OpenApiResponse(ErrorSerializer, description="Locked out after LOGIN_FAILURE_LIMIT failed logins "
                             "(code login_locked; Retry-After names the cool-off), or throttled")


@extend_schema(tags=["auth"], summary="Obtain a JWT pair with username and password", responses={
    200: TokenObtainPairSerializer,
    401: OpenApiResponse(ErrorSerializer,
                         description="Wrong username or password; each failure counts toward the lockout"),
    429: LOCKED_OUT,
})
class TokenObtainView(TokenObtainPairView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginRateThrottle]

    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
        except TokenError as exc:
            raise InvalidToken(exc.args[0]) from exc
        except AuthenticationFailed:
            # django-axes flags the (DRF) request when the credentials are locked out.
            if getattr(request, "axes_locked_out", False):
                return lockout_response(request)
            raise
        user = serializer.user
        audit_log_create(action="auth.token", resource=f"user:{user.username}", user=user, request=request)
        return Response(serializer.validated_data, status=200)


@extend_schema(tags=["auth"], summary="Exchange a refresh token for a new pair (the old one is blacklisted)",
               responses={
                   200: TokenRefreshSerializer,
                   401: OpenApiResponse(ErrorSerializer,
                                        description="Invalid, expired or already used (blacklisted) refresh token"),
               })
class TokenRefreshThrottledView(TokenRefreshView):
    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [LoginRateThrottle]


class WsTicketSerializer(serializers.Serializer):
    ticket = serializers.CharField()
    expires_in = serializers.IntegerField()


@extend_schema(tags=["auth"], summary="A single-use WebSocket ticket for /ws/trading?token=", request=None,
               responses=WsTicketSerializer)
class WsTicketView(APIView):
    authentication_classes = [JWTAuthentication, SessionAuthentication]
    # No body is read; a browser may still post a form (its CSRF token in the form is checked).
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    def post(self, request):
        ticket = ws_ticket_issue(user=request.user)
        return Response({"ticket": ticket, "expires_in": settings.WS_TICKET_SECONDS})


def login_throttled(view):
    """A browser login view (the app's or the admin's) whose form posts count toward the per-IP
    login budget it shares with the token endpoints; over budget, a plain 429 with Retry-After."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method == "POST":
            throttle = LoginRateThrottle()
            if not throttle.allow_request(request, None):
                seconds = max(1, math.ceil(throttle.wait() or 1))
                return HttpResponse(f"Too many login attempts from your address. Try again in {seconds} seconds.",
                                    status=429, content_type="text/plain", headers={"Retry-After": str(seconds)})
        return view(request, *args, **kwargs)

    return wrapped


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """django-axes lockout: JSON 429 for the API, a plain page for the browser."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    message = f"Too many failed login attempts. Try again in {minutes} minutes."
    headers = {"Retry-After": str(int(settings.AXES_COOLOFF_TIME.total_seconds()))}
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message, "code": "login_locked"}, status=429, headers=headers)
    return HttpResponse(message, status=429, content_type="text/plain", headers=headers)


@receiver(signals.user_logged_in)
def _audit_login(sender, request, user, **kwargs):
    audit_log_create(action="auth.login", resource=f"user:{user.username}", user=user, request=request)


@receiver(signals.user_logged_out)
def _audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_log_create(action="auth.logout", resource=f"user:{user.username}", user=user, request=request)


@receiver(signals.user_login_failed)
def _audit_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))[:64]
    audit_log_create(
        action="auth.login_failed", resource=f"user:{username}", payload={"username": username}, request=request
    )
