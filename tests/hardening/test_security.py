"""The production security gate: deploy checks, JWT lifetimes and rotation, login lockout, WebSocket
origin and tickets, credentials kept out of logs, and the security headers of every response."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
import re
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
import time_machine
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from alphaloop.asgi import application
from alphaloop.middleware import CHART_ATTRIBUTION_STYLE_HASH

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery"  # tests/conftest.py make_user
BOT_TOKEN = "987654321:AAF-production_LIKE-bot-token-0123456789"
WEBHOOK_SECRET = "hook-secret-9f8e7d6c5b4a"
ORIGIN = (b"origin", b"http://testserver")

# --- check --deploy ----------------------------------------------------------------------------------

PRODUCTION_ENV = {
    "DEBUG": "false",
    "DEPLOY_PROFILE": "production",
    "SECRET_KEY": "s" * 40 + "-production-secret-for-the-check",
    "JWT_SIGNING_KEY": "j" * 40 + "-production-jwt-key-for-the-check",
    "ALLOWED_HOSTS": "trading.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://trading.example.com",
}


def _check_deploy(overrides: dict) -> subprocess.CompletedProcess:
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DEPLOY_")) and k not in {
        "DEBUG", "SECRET_KEY", "JWT_SIGNING_KEY", "JWT_SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}}
    env = {**kept, "ALPHALOOP_ENV_FILE": "/nonexistent", "DJANGO_SETTINGS_MODULE": "alphaloop.settings", **overrides}
    return subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_check_deploy_passes_with_zero_warnings_under_the_production_profile():
    result = _check_deploy(PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_fails_without_the_production_profile():
    result = _check_deploy({**PRODUCTION_ENV, "DEPLOY_PROFILE": "local"})

    assert result.returncode != 0
    assert {"security.W004", "security.W008", "security.W012", "security.W016"} <= set(
        re.findall(r"security\.W\d{3}", result.stderr))


# --- JWT ------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_access_tokens_live_five_minutes(user):
    with time_machine.travel(dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC), tick=False) as clock:
        credentials = {"username": "trader", "password": PASSWORD}
        tokens = APIClient().post("/api/v1/auth/token", credentials, format="json").data
        access = AccessToken(tokens["access"])
        assert access["exp"] - access["iat"] == 300
        reader = APIClient(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")

        clock.shift(dt.timedelta(minutes=4, seconds=59))
        assert reader.get("/api/v1/account").status_code == 200
        clock.shift(dt.timedelta(seconds=2))
        expired = reader.get("/api/v1/account")

    assert expired.status_code == 401 and expired.json()["code"] == "token_not_valid"


@pytest.mark.django_db
def test_a_refresh_token_rotates_and_a_reused_one_is_refused_with_401(user):
    client = APIClient()
    first = client.post("/api/v1/auth/token", {"username": "trader", "password": PASSWORD}, format="json").data

    rotated = client.post("/api/v1/auth/token/refresh", {"refresh": first["refresh"]}, format="json")
    reused = client.post("/api/v1/auth/token/refresh", {"refresh": first["refresh"]}, format="json")
    again = client.post("/api/v1/auth/token/refresh", {"refresh": rotated.data["refresh"]}, format="json")

    assert rotated.status_code == 200 and rotated.data["refresh"] != first["refresh"]
    assert reused.status_code == 401
    assert reused.json() == {"detail": "Token is blacklisted", "code": "token_not_valid"}
    assert again.status_code == 200


# --- login lockout (django-axes) ----------------------------------------------------------------------

@pytest.mark.django_db
def test_the_token_endpoint_locks_out_with_json_429_until_a_quiet_cool_off(user, settings):
    client = APIClient()
    limit = settings.AXES_FAILURE_LIMIT

    def login(password: str):
        return client.post("/api/v1/auth/token", {"username": "trader", "password": password}, format="json")

    with time_machine.travel(dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC), tick=False) as clock:
        statuses = [login("wrong").status_code for _ in range(limit)]
        locked = login(PASSWORD)
        # An attempt during the lockout counts as activity: the cool-off runs from the last attempt.
        clock.shift(settings.AXES_COOLOFF_TIME - dt.timedelta(seconds=1))
        still_locked = login(PASSWORD)
        clock.shift(settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1))
        after_cool_off = login(PASSWORD)

    assert statuses == [401] * (limit - 1) + [429]
    assert (locked.status_code, locked["Content-Type"]) == (429, "application/json")
    assert locked.json()["code"] == "login_locked" and locked["Retry-After"] == "900"
    assert still_locked.status_code == 429
    assert after_cool_off.status_code == 200 and "access" in after_cool_off.data


@pytest.mark.django_db
def test_with_the_cache_down_the_token_endpoint_still_signs_in_and_still_locks_out(user, settings):
    from django.core.cache import caches

    from alphaloop.versions import cache_circuit

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
                                   "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2}}}
    caches._connections.__dict__.pop("default", None)  # the next use builds the dead cache
    client = APIClient()
    try:
        signed_in = client.post("/api/v1/auth/token", {"username": "trader", "password": PASSWORD}, format="json")
        wrong = [client.post("/api/v1/auth/token", {"username": "trader", "password": "wrong"}, format="json").status_code
                 for _ in range(settings.AXES_FAILURE_LIMIT)]
    finally:
        caches._connections.__dict__.pop("default", None)
        cache_circuit.succeeded()

    assert signed_in.status_code == 200 and "access" in signed_in.data
    assert wrong[-1] == 429  # the lockout lives in the database


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.django_db
def test_the_admin_login_locks_out_after_the_failure_limit_and_cools_off(staff_user, settings):
    client = Client()
    limit = settings.AXES_FAILURE_LIMIT

    def login(password: str):
        return client.post("/admin/login/?next=/admin/", {"username": "desk", "password": password})

    with time_machine.travel(dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC), tick=False) as clock:
        statuses = [login("wrong").status_code for _ in range(limit)]
        locked = login(PASSWORD)
        clock.shift(settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1))
        after_cool_off = login(PASSWORD)

    assert statuses == [200] * (limit - 1) + [429]  # 200: the form again, with its error
    assert locked.status_code == 429 and b"Too many failed login attempts" in locked.content
    assert after_cool_off.status_code == 302 and after_cool_off["Location"] == "/admin/"


# --- per-IP login throttle (LOGIN_THROTTLE_RATE, 10/min) ---------------------------------------------

THROTTLE_LIMIT = 10


def _spray(count: int, **meta) -> list[int]:
    """Failed token logins, each with another username (a password spray), from one address."""
    client = APIClient()
    return [client.post("/api/v1/auth/token", {"username": f"victim{n}", "password": "guess"}, format="json",
                        **{k: (v(n) if callable(v) else v) for k, v in meta.items()}).status_code
            for n in range(count)]


@pytest.mark.django_db
def test_a_rotating_forwarded_for_from_an_untrusted_peer_is_still_throttled_after_the_limit(settings):
    settings.TRUSTED_PROXIES = []

    statuses = _spray(THROTTLE_LIMIT + 4, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=lambda n: f"10.0.0.{n}")

    assert statuses == [401] * THROTTLE_LIMIT + [429] * 4


@pytest.mark.django_db
def test_behind_a_trusted_proxy_the_throttle_counts_the_forwarded_client(settings):
    import ipaddress

    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    proxy = {"REMOTE_ADDR": "127.0.0.1"}

    one_client = _spray(THROTTLE_LIMIT + 1, **proxy, HTTP_X_FORWARDED_FOR="203.0.113.9")
    next_client = _spray(1, **proxy, HTTP_X_FORWARDED_FOR="203.0.113.10")
    spoofed_through_proxy = _spray(1, **proxy, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.9")

    assert one_client == [401] * THROTTLE_LIMIT + [429]
    assert next_client == [401]  # another client behind the same proxy has its own budget
    assert spoofed_through_proxy == [429]  # the proxy appended the real client: the forged part is ignored


@pytest.mark.django_db
def test_browser_admin_and_token_logins_share_one_per_ip_budget():
    meta = {"REMOTE_ADDR": "198.51.100.8"}
    browser, admin = Client(**meta), Client(**meta)

    pages = [browser.post("/accounts/login/", {"username": f"victim{n}", "password": "guess"}).status_code
             for n in range(4)]
    admins = [admin.post("/admin/login/", {"username": f"staff{n}", "password": "guess"}).status_code
              for n in range(4)]
    tokens = _spray(3, **meta)
    refused_page = browser.post("/accounts/login/", {"username": "victim9", "password": "guess"})
    refused_admin = admin.post("/admin/login/", {"username": "staff9", "password": "guess"})
    form = browser.get("/accounts/login/")

    assert (pages, admins, tokens) == ([200] * 4, [200] * 4, [401, 401, 429])  # 200: the form, with its error
    assert refused_page.status_code == 429 and refused_admin.status_code == 429
    assert b"Too many login attempts from your address" in refused_page.content
    assert int(refused_page["Retry-After"]) > 0
    assert form.status_code == 200  # showing the form is not an attempt


# --- WebSocket: origin and single-use tickets ---------------------------------------------------------

def _ticket(user) -> str:
    client = APIClient()
    client.force_authenticate(user)
    return client.post("/api/v1/auth/ws-ticket").data["ticket"]


async def _connects(path: str, origin=ORIGIN, host: bytes = b"testserver") -> bool:
    """Whether /ws/trading accepts the socket and says hello (4401 or a refused handshake is False)."""
    communicator = WebsocketCommunicator(application, path, headers=[origin, (b"host", host)])
    connected, _ = await communicator.connect()
    if not connected:
        return False
    message = await communicator.receive_output(timeout=2)
    await communicator.disconnect()
    return message["type"] == "websocket.send"


@pytest.mark.django_db(transaction=True)
def test_a_ws_ticket_opens_one_socket_and_is_refused_the_second_time(user):
    ticket = _ticket(user)

    first = async_to_sync(_connects)(f"/ws/trading?token={ticket}")
    second = async_to_sync(_connects)(f"/ws/trading?token={ticket}")

    assert (ticket.startswith("wst_"), first, second) == (True, True, False)


@pytest.mark.django_db(transaction=True)
def test_a_ws_ticket_expires_after_ws_ticket_seconds(user, settings):
    settings.WS_TICKET_SECONDS = 1  # real time: on Redis the key's TTL runs in the server
    ticket = _ticket(user)

    time.sleep(1.5)

    assert async_to_sync(_connects)(f"/ws/trading?token={ticket}") is False


@pytest.mark.django_db(transaction=True)
def test_a_foreign_origin_is_refused_before_the_ticket_is_spent(user):
    ticket = _ticket(user)

    foreign = async_to_sync(_connects)(f"/ws/trading?token={ticket}", (b"origin", b"https://evil.example"))
    missing = async_to_sync(_connects)(f"/ws/trading?token={ticket}", (b"x-no-origin", b"1"))
    ours = async_to_sync(_connects)(f"/ws/trading?token={ticket}")

    assert (foreign, missing, ours) == (False, False, True)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "host", "accepted"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", True),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", False),  # another port of the same host
        ("https://127.0.0.1:8000", "127.0.0.1:8000", False),  # another scheme
        ("http://localhost:8000", "localhost:8000", True),
        ("https://localhost", "localhost:8000", False),
        ("http://localhost", "localhost", True),  # port 80 implied on both sides
        ("http://localhost:80", "localhost", True),
        ("http://127.0.0.1:8000", "localhost:8000", False),  # another host, though both are allowed hosts
        ("http://evil.example:8000", "evil.example:8000", False),  # not in ALLOWED_HOSTS
        ("null", "localhost:8000", False),
    ],
)
def test_a_websocket_origin_must_match_the_sites_scheme_host_and_port(user, origin, host, accepted):
    token = str(AccessToken.for_user(user))

    connects = async_to_sync(_connects)(f"/ws/trading?token={token}", (b"origin", origin.encode()), host.encode())

    assert connects is accepted


@pytest.mark.django_db(transaction=True)
def test_behind_a_proxy_the_csrf_trusted_origins_are_the_websocket_origins_too(user, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://trading.example.com"]
    token = str(AccessToken.for_user(user))
    path, proxied_host = f"/ws/trading?token={token}", b"127.0.0.1:8001"  # the proxy's upstream Host

    def connects(origin: str) -> bool:
        return async_to_sync(_connects)(path, (b"origin", origin.encode()), proxied_host)

    assert connects("https://trading.example.com") is True
    assert connects("https://trading.example.com:443") is True
    assert connects("http://trading.example.com") is False
    assert connects("https://trading.example.com:8443") is False
    assert connects("https://evil.trading.example.com") is False


def test_a_secure_socket_has_an_https_origin_and_a_proxy_says_so_only_when_trusted(settings):
    import ipaddress

    from notifications.ws_auth import origin_allowed

    settings.TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.5/32")]

    def scope(origin: str, *, scheme: str = "ws", client: str = "10.0.0.5", proto: bytes | None = None) -> dict:
        headers = [(b"origin", origin.encode()), (b"host", b"localhost")]
        return {"type": "websocket", "scheme": scheme, "client": [client, 50000],
                "headers": headers + ([(b"x-forwarded-proto", proto)] if proto else [])}

    assert origin_allowed(scope("https://localhost", scheme="wss")) is True
    assert origin_allowed(scope("http://localhost", scheme="wss")) is False
    assert origin_allowed(scope("https://localhost", proto=b"https")) is True
    assert origin_allowed(scope("https://localhost", proto=b"https", client="198.51.100.7")) is False


# --- no credential in any log line --------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_no_token_password_ticket_or_bot_secret_reaches_a_log_line(user, settings, bot_api, console_output):
    import logging

    from notifications.services import notification_send

    settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_CHAT_ID, settings.TELEGRAM_API_URL = BOT_TOKEN, "4242", bot_api.url
    settings.TELEGRAM_MAX_RETRIES = 0
    settings.TELEGRAM_WEBHOOK_SECRET = WEBHOOK_SECRET
    client = APIClient()

    client.post("/api/v1/auth/token", {"username": "trader", "password": "not-the-password"}, format="json")
    tokens = client.post("/api/v1/auth/token", {"username": "trader", "password": PASSWORD}, format="json").data
    refreshed = client.post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json").data
    client.post("/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")  # reused: 401
    ticket = _ticket(user)
    async_to_sync(_connects)(f"/ws/trading?token={ticket}")
    async_to_sync(_connects)(f"/ws/trading?token={ticket}")  # spent: refused
    async_to_sync(_connects)(f"/ws/trading?token={refreshed['access']}")
    notification_send("telegram", "price_alert", "AAPL above 190", "at 190.10", account=user.accounts.get())
    client.post(f"/api/v1/notifications/telegram/webhook/{WEBHOOK_SECRET}", {"not": "an update"}, format="json")
    # The line runserver's request log writes for a socket (daphne logs the path without the query).
    logging.getLogger("django.channels.server").info("WebSocket HANDSHAKING %(path)s [%(client)s]",
                                                     {"path": f"/ws/trading?token={tokens['access']}", "client": "::1"})

    output = console_output()
    secrets = {"password": PASSWORD, "access": tokens["access"], "refresh": tokens["refresh"],
               "new access": refreshed["access"], "new refresh": refreshed["refresh"], "ticket": ticket,
               "bot token": BOT_TOKEN, "bot secret": BOT_TOKEN.split(":")[1], "webhook secret": WEBHOOK_SECRET}
    assert [path for path, _ in bot_api.requests] == [f"/bot{BOT_TOKEN}/sendMessage"]  # the token did go out, to Telegram only
    assert "Bad Request: /api/v1/notifications/telegram/webhook/[redacted]" in output
    assert "HANDSHAKING /ws/trading?[redacted]" in output
    assert [name for name, secret in secrets.items() if secret in output] == []


# --- security headers -----------------------------------------------------------------------------------

COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _api_responses(user) -> dict[str, object]:
    anonymous, authenticated = APIClient(), APIClient()
    authenticated.force_authenticate(user)
    return {
        "200 data": authenticated.get("/api/v1/account"),
        "201 created": authenticated.post("/api/v1/journal/tags", {"kind": "mistake", "name": "chased"}, format="json"),
        "400 field errors": authenticated.post("/api/v1/plans/", {"symbol": ""}, format="json"),
        "401 no token": anonymous.get("/api/v1/account"),
        "404 no route": authenticated.get("/api/v1/plans/not-a-number"),
        "405 method": authenticated.put("/api/v1/account", {}, format="json"),
        "415 media type": authenticated.post("/api/v1/plans/", "symbol=AAPL",
                                             content_type="application/x-www-form-urlencoded"),
        "token": anonymous.post("/api/v1/auth/token", {"username": "trader", "password": PASSWORD}, format="json"),
        "schema": anonymous.get("/api/schema/"),
    }


@pytest.mark.django_db
def test_every_api_response_carries_the_security_headers_and_no_store(user):
    for name, response in _api_responses(user).items():
        headers = {key: response.get(key) for key in COMMON_HEADERS}
        assert headers == COMMON_HEADERS, name
        assert response["Cache-Control"] == "no-store", name
        assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'", name
        if response.status_code >= 400:  # JSON errors: {"detail", "code"}, or field errors for a 400
            assert response["Content-Type"] == "application/json", name
            assert "code" in response.json() or response.status_code == 400, name


@pytest.mark.django_db
def test_html_pages_carry_a_same_origin_content_security_policy(user, client):
    pages = {"login": client.get("/accounts/login/"), "admin login": client.get("/admin/login/"),
             "api docs": client.get("/api/docs/")}
    client.force_login(user)
    pages["dashboard"] = client.get("/")

    for name, response in pages.items():
        assert response.status_code == 200, name
        policy = dict(part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";"))
        assert {key: response.get(key) for key in COMMON_HEADERS} == COMMON_HEADERS, name
        assert policy["script-src"] == "'self'", name
        assert policy["style-src"] == f"'self' {CHART_ATTRIBUTION_STYLE_HASH}", name
        assert policy["connect-src"] == "'self' ws: wss:" and policy["img-src"] == "'self' data:", name
        assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'", name


def test_the_only_inline_style_allowed_is_the_vendored_chart_attribution_by_its_hash():
    library = (ROOT / "static/vendor/lightweight-charts/lightweight-charts.standalone.production.js").read_text()
    styles = re.findall(r'createElement\("style"\),this\.\w+\.innerText="([^"]*)"', library)

    digests = [base64.b64encode(hashlib.sha256(css.encode()).digest()).decode() for css in styles]

    assert [f"'sha256-{digest}'" for digest in digests] == [CHART_ATTRIBUTION_STYLE_HASH]


class _InlineCode(HTMLParser):
    """Collects what a CSP without 'unsafe-inline' would block: inline scripts, handlers and styles."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and "src" not in attributes and attributes.get("type") != "application/json":
            self._in_inline_script = True
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style> element")
        self.found += [f"{tag} {name}=" for name in attributes if name.startswith("on") or name == "style"]

    def handle_endtag(self, tag):
        self._in_inline_script = False


@pytest.mark.django_db
def test_the_dashboard_pages_hold_no_inline_script_or_style_the_policy_would_block(user, client):
    from journal.services import journal_create

    journal = journal_create(account=user.accounts.get(), user=user, symbol="AAPL", direction="LONG")
    responses = {"/accounts/login/": client.get("/accounts/login/")}
    client.force_login(user)
    pages = ["/", "/equity/", "/journal/", f"/journal/{journal.pk}/", "/alerts/", "/orders/", "/backtests/", "/signals/"]
    for path in pages:
        responses[path] = client.get(path)

    for path, response in responses.items():
        parser = _InlineCode()
        parser.feed(response.content.decode())
        assert (response.status_code, parser.found) == (200, []), path
