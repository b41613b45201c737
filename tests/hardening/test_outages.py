"""Outages (issue 9, point 4): Redis, the database, the LLM and Telegram go away and come back.

Servers are real (``manage.py serve``, Daphne, production settings) on loopback ports; an outage
is a closed port, a private ``redis-server`` that is SIGKILLed and restarted, or a TCP proxy to
MariaDB that drops everything. The shared Redis and MariaDB are never stopped.

What is asserted: no request is a 500; Redis down leaves the REST API working and says so
(``GET /api/health``: redis down, websocket degraded; 503 ``redis_unavailable`` /
``queue_unavailable`` for the features that need it); the database down is a 503 with a clear
message on API and pages; the LLM down is 503 ``llm_unavailable``; Telegram down is a FAILED
log row; each recovers by itself within 30 s of the service returning.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from django.conf import settings as django_settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

import faultkit  # noqa: E402

from journal.models import TradeJournal  # noqa: E402
from notifications.events import event_deliver, layer_circuit  # noqa: E402
from notifications.models import LiveEvent, NotificationLog  # noqa: E402
from notifications.services import notification_send  # noqa: E402
from tests.waiting import CROSS_PROCESS_SECONDS  # noqa: E402

RECOVERY_SECONDS = 30
PASSWORD = "outage-drill-password-1"
PAGES = ["/", "/equity/", "/journal/", "/alerts/", "/orders/", "/backtests/", "/signals/"]
SETUP = f"""
import json
from decimal import Decimal
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken
from alerts.services import alert_create
from datetime import date
from marketdata.calendar import sessions_between
from marketdata.models import Bar, Instrument
from marketdata.pipeline import quote_store
from orders.plans import plan_create
user = get_user_model().objects.create_user("desk", password="{PASSWORD}", is_staff=True)
account = user.accounts.get()
out = Instrument.objects.create(symbol="OUT")
Bar.objects.bulk_create([Bar(instrument=out, date=day, open=100 + n % 7, high=101 + n % 7, low=99 + n % 7,
                             close=100 + n % 7, volume=10**6)
                         for n, day in enumerate(sessions_between(date(2024, 1, 2), date(2024, 6, 28)))])
quote_store(symbol="OUT", price=Decimal("100"), source="setup")
plan_create(account=account, symbol="OUT", direction="LONG", entry_price=Decimal("99"), quantity=Decimal("5"))
alert_create(account=account, symbol="OUT", condition_type="price_above", threshold=Decimal("150"))
print(json.dumps({{"token": str(AccessToken.for_user(user))}}))
"""


@dataclass
class Site:
    """A migrated SQLite database with a staff user, for servers started with ``env(...)``."""

    workdir: Path
    token: str

    def env(self, **extra: str) -> dict[str, str]:
        defaults = {"DATABASE_URL": f"sqlite:///{self.workdir / 'site.sqlite3'}", "ALPHALOOP_VAR_DIR": str(self.workdir),
                    "REDIS_URL": "", "JWT_ACCESS_MINUTES": "60", "TRADING_HOURS_ONLY": "false", "LOG_LEVEL": "WARNING"}
        return faultkit.base_env(**{**defaults, **extra})

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    import subprocess

    workdir = tmp_path_factory.mktemp("site")
    env = Site(workdir, "").env()
    subprocess.run([faultkit.PYTHON, "manage.py", "migrate", "-v", "0"], cwd=faultkit.ROOT, env=env, check=True)
    out = subprocess.run([faultkit.PYTHON, "manage.py", "shell", "-v", "0", "-c", SETUP], cwd=faultkit.ROOT, env=env,
                         check=True, capture_output=True, text=True).stdout
    return Site(workdir, json.loads(out.strip().splitlines()[-1])["token"])


def _serve(env: dict[str, str], processes: list, tmp_path: Path, name: str = "server") -> str:
    port = faultkit.free_port()
    processes.append(faultkit.web_server(env, tmp_path / f"{name}.log", port))
    return f"http://127.0.0.1:{port}"


def _login(client: httpx.Client) -> None:
    """Log the browser session in through the login form (CSRF included)."""
    client.get("/accounts/login/")
    response = client.post("/accounts/login/", data={"username": "desk", "password": PASSWORD,
                                                      "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                           headers={"Referer": f"{client.base_url}accounts/login/"})
    assert response.status_code == 302, response.text[:300]


def _get_paths(client: httpx.Client) -> list[str]:
    """Every GET endpoint of the OpenAPI schema without path parameters."""
    schema = client.get("/api/schema/", params={"format": "json"})
    assert schema.status_code == 200
    return sorted(path for path, ops in schema.json()["paths"].items() if "get" in ops and "{" not in path)


def _no_server_errors(responses: dict[str, httpx.Response]) -> None:
    errors = {name: (r.status_code, r.text[:200]) for name, r in responses.items() if r.status_code >= 500
              and r.status_code != 503}
    assert not errors
    for name, response in responses.items():
        if response.status_code == 503:
            assert response.json()["detail"] and response.json()["code"].endswith("_unavailable"), name


async def _ws_first_frames(base: str, path: str, *, subscribe: list[str] | None = None,
                           then: Callable[[], Awaitable[object]] | None = None, expect: int = 1,
                           timeout: float = CROSS_PROCESS_SECONDS) -> list[dict]:
    """Connect to the WebSocket, optionally subscribe to symbols and, once the server confirms the
    subscription, run ``then``; return the first ``expect`` messages, each awaited up to ``timeout``
    (never a fixed pause)."""
    WsClient = faultkit.ws_client_class()
    host, port = base.removeprefix("http://").split(":")
    client = await asyncio.wait_for(WsClient.connect(host, int(port), path), timeout)

    async def frame() -> dict:
        return json.loads(await asyncio.wait_for(client.receive_text(), timeout))

    try:
        frames = [await frame()]
        if subscribe:
            await client.send_text(json.dumps({"action": "subscribe", "symbols": subscribe}))
            frames.append(await frame())  # {"event": "subscribed"}: the socket is in the prices group
            if then is not None:
                await then()
        while len(frames) < expect:
            frames.append(await frame())
        return frames
    finally:
        client.close()


# --- health -----------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_health_answers_without_credentials_and_names_only_component_states(client, settings):
    response = client.get("/api/health")

    redis = "ok" if settings.REDIS_URL else "not_configured"  # the services pass runs with Redis
    assert (response.status_code, response.json()) == (
        200, {"status": "ok", "database": "ok", "redis": redis, "websocket": "ok", "tasks": "inline"})
    assert response.headers["Cache-Control"] == "no-store"


# --- Redis -----------------------------------------------------------------------------------------

def test_with_redis_down_the_rest_api_answers_and_live_features_say_they_are_degraded(site, processes, tmp_path):
    base = _serve(site.env(REDIS_URL=f"redis://127.0.0.1:{faultkit.free_port()}/0"), processes, tmp_path)
    with (httpx.Client(base_url=base, headers=site.auth, timeout=CROSS_PROCESS_SECONDS) as api,
          httpx.Client(base_url=base, timeout=CROSS_PROCESS_SECONDS) as browser):
        health = api.get("/api/health")
        assert (health.status_code, health.json()) == (
            200, {"status": "degraded", "database": "ok", "redis": "down", "websocket": "degraded", "tasks": "down"})

        responses = {f"GET {path}": api.get(path) for path in _get_paths(api)}
        order = api.post("/api/v1/orders/submit", json={"symbol": "OUT", "side": "BUY", "quantity": "2",
                                                        "order_type": "MARKET"})
        alert = api.post("/api/v1/alerts/create", json={"symbol": "OUT", "condition_type": "price_below",
                                                        "threshold": "50"})
        quote = api.post("/api/v1/market/quotes", json={"symbol": "OUT", "price": "101.5"})
        backtest = api.post("/api/v1/backtest/run", json={
            "strategy_id": "buy_and_hold", "params": {}, "symbols": ["OUT"], "start_date": "2024-01-02",
            "end_date": "2024-06-28", "initial_capital": "10000"})
        ticket = api.post("/api/v1/auth/ws-ticket")
        token = browser.post("/api/v1/auth/token", json={"username": "desk", "password": PASSWORD})
        _login(browser)
        pages = {f"page {page}": browser.get(page) for page in PAGES}
        responses.update(order=order, alert=alert, quote=quote, backtest=backtest, ticket=ticket, token=token, **pages)

        _no_server_errors(responses)
        assert all(r.status_code == 200 for name, r in responses.items() if name.startswith("page ")), pages
        assert (order.status_code, order.json()["status"]) == (201, "FILLED")  # live push skipped, order placed
        assert alert.status_code == 201
        # Features that need Redis answer a 503 naming what is missing.
        assert (quote.status_code, quote.json()["code"]) == (503, "queue_unavailable")
        assert api.get("/api/v1/market/quotes/OUT").json()["price"] == "100.000000"  # refused before writing
        assert (backtest.status_code, backtest.json()["code"]) == (503, "queue_unavailable")
        assert (ticket.status_code, ticket.json()["code"]) == (503, "redis_unavailable")
        # The token endpoint's rate limit lives in Redis and fails open (the lockout is in the database).
        assert token.status_code == 200 and "access" in token.json()

    # A WebSocket is accepted and closed at once (it cannot join its group), never left hanging.
    with pytest.raises(ConnectionError, match="closed"):
        asyncio.run(_ws_first_frames(base, f"/ws/trading?token={site.token}"))


@pytest.mark.services
def test_a_redis_outage_ends_by_itself_within_30_seconds_of_redis_returning(site, processes, tmp_path):
    redis_port = faultkit.free_port()
    redis = faultkit.redis_server(redis_port, tmp_path)
    processes.append(redis)
    base = _serve(site.env(REDIS_URL=f"redis://127.0.0.1:{redis_port}/0"), processes, tmp_path)
    api = httpx.Client(base_url=base, headers=site.auth, timeout=CROSS_PROCESS_SECONDS)

    def everything_works() -> bool:
        health = api.get("/api/health").json()
        ticket = api.post("/api/v1/auth/ws-ticket")
        if health["status"] != "ok" or ticket.status_code != 200:
            return False

        async def tick_reaches_socket() -> bool:
            posted = []

            async def post_quote() -> None:
                posted.append(await asyncio.to_thread(api.post, "/api/v1/market/quotes",
                                                      json={"symbol": "OUT", "price": "102"}))

            # One probe of a polling loop: a missed tick fails this attempt quickly and the loop tries again.
            frames = await _ws_first_frames(base, f"/ws/trading?token={ticket.json()['ticket']}", subscribe=["OUT"],
                                            then=post_quote, expect=3, timeout=5)
            tick = frames[2]
            return posted[0].status_code == 201 and tick["channel"] == "price" and tick["data"]["symbol"] == "OUT"

        try:
            return asyncio.run(tick_reaches_socket())
        except (ConnectionError, asyncio.TimeoutError, OSError):
            return False

    assert everything_works()

    redis.kill_group()
    health = api.get("/api/health")
    assert (health.status_code, health.json()["redis"], health.json()["websocket"]) == (200, "down", "degraded")
    during = {"summary": api.get("/api/v1/dashboard/summary"), "positions": api.get("/api/v1/positions"),
              "order": api.post("/api/v1/orders/submit", json={"symbol": "OUT", "side": "BUY", "quantity": "1",
                                                                "order_type": "MARKET"}),
              "ticket": api.post("/api/v1/auth/ws-ticket"),
              "quote": api.post("/api/v1/market/quotes", json={"symbol": "OUT", "price": "103"})}
    _no_server_errors(during)
    assert [during[name].status_code for name in during] == [200, 200, 201, 503, 503]

    processes.append(faultkit.redis_server(redis_port, tmp_path))
    returned = time.monotonic()
    faultkit.wait_until(everything_works, timeout=RECOVERY_SECONDS, interval=0.5, what="Redis features to recover")
    assert time.monotonic() - returned < RECOVERY_SECONDS
    api.close()


@pytest.mark.django_db
def test_while_the_channel_layer_is_down_events_are_stored_and_pushes_pause_then_resume(user, settings, monkeypatch):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": [f"redis://127.0.0.1:{faultkit.free_port()}/0"]}}}
    from channels.layers import get_channel_layer

    now = [1000.0]
    monkeypatch.setattr(layer_circuit, "clock", lambda: now[0])
    monkeypatch.setattr(layer_circuit, "open", False)
    attempts = []
    layer = get_channel_layer()
    original = layer.group_send

    async def counted(group, message):
        attempts.append(group)
        return await original(group, message)

    monkeypatch.setattr(layer, "group_send", counted)

    def publish(n: int) -> bool:
        return event_deliver(user_id=user.pk, channel="risk_warning", event="drill", data={"n": n})[1]

    pushed = [publish(1), publish(2)]  # the first attempt fails and opens the circuit; the second skips the layer
    assert (pushed, len(attempts), layer_circuit.open) == ([False, False], 1, True)
    now[0] += 4.9
    assert (publish(3), len(attempts)) == (False, 1)
    now[0] += 0.2  # LIVE_PUSH_RETRY_SECONDS (5) after the failure: try again, still down
    assert (publish(4), len(attempts)) == (False, 2)

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}  # the layer is back
    now[0] += 5.1
    assert (publish(5), layer_circuit.open) == (True, False)
    assert list(LiveEvent.objects.filter(user=user).values_list("data__n", flat=True)) == [1, 2, 3, 4, 5]


# --- the database ----------------------------------------------------------------------------------

def test_with_the_database_unreachable_api_and_pages_answer_503_with_a_clear_message(site, processes, tmp_path):
    base = _serve(site.env(DATABASE_URL=f"mysql://root@127.0.0.1:{faultkit.free_port()}/alphaloop"), processes, tmp_path)
    with httpx.Client(base_url=base, timeout=CROSS_PROCESS_SECONDS) as client:
        login_page = client.get("/accounts/login/")
        api = {
            "summary": client.get("/api/v1/dashboard/summary", headers=site.auth),
            "submit": client.post("/api/v1/orders/submit", headers=site.auth, json={"symbol": "OUT"}),
            "token": client.post("/api/v1/auth/token", json={"username": "desk", "password": PASSWORD}),
        }
        health = client.get("/api/health")
        client.cookies.set("sessionid", "a" * 32)
        pages = {"dashboard": client.get("/"), "admin": client.get("/admin/"),
                 "login": client.post("/accounts/login/", data={"username": "desk", "password": PASSWORD,
                                                               "csrfmiddlewaretoken": client.cookies["csrftoken"]},
                                      headers={"Referer": f"{base}/accounts/login/"})}

    assert login_page.status_code == 200  # nothing to read from the database
    for name, response in api.items():
        assert (response.status_code, response.json()) == (
            503, {"detail": "The database is unavailable; try again shortly.", "code": "database_unavailable"}), name
        assert response.headers["Retry-After"] == "5"
    assert (health.status_code, health.json()["status"], health.json()["database"]) == (503, "down", "down")
    for name, response in pages.items():
        assert response.status_code == 503, name
        assert response.headers["content-type"].startswith("text/html"), name
        assert "The database is unavailable; try again shortly." in response.text


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_database_outage_ends_by_itself_within_30_seconds_of_the_database_returning(
        make_user, processes, tmp_path):
    from rest_framework_simplejwt.tokens import AccessToken

    user = make_user("outage-db")
    database = django_settings.DATABASES["default"]
    proxy = faultkit.TcpProxy(int(database["PORT"] or 3306))
    url = faultkit.database_url_for(database["NAME"]).replace(f":{database['PORT'] or 3306}/", f":{proxy.port}/")
    base = _serve(faultkit.base_env(DATABASE_URL=url, REDIS_URL=os.environ["REDIS_URL"], LOG_LEVEL="WARNING"),
                  processes, tmp_path)
    client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {AccessToken.for_user(user)}"},
                          timeout=CROSS_PROCESS_SECONDS)

    def summary_works() -> bool:
        return client.get("/api/v1/dashboard/summary").status_code == 200 and \
            client.get("/api/health").json()["database"] == "ok"

    try:
        assert summary_works()
        proxy.down()
        during = {"summary": client.get("/api/v1/dashboard/summary"), "health": client.get("/api/health")}
        assert [r.status_code for r in during.values()] == [503, 503]
        assert during["summary"].json()["code"] == "database_unavailable"

        proxy.up()
        returned = time.monotonic()
        faultkit.wait_until(summary_works, timeout=RECOVERY_SECONDS, interval=0.5, what="the API to recover")
        assert time.monotonic() - returned < RECOVERY_SECONDS
    finally:
        client.close()
        proxy.down()


# --- the LLM and Telegram ----------------------------------------------------------------------------

class FakeHttpService:
    """A loopback HTTP server on a fixed port that answers POSTs with ``answer(path, body)`` (JSON)."""

    def __init__(self, port: int, answer):
        self.requests: list[tuple[str, dict]] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                service.requests.append((self.path, body))
                payload = json.dumps(answer(self.path, body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True

    def __enter__(self) -> FakeHttpService:
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _chat_completion(path: str, body: dict) -> dict:
    return {"id": "chatcmpl-drill", "object": "chat.completion", "created": 1, "model": body.get("model", "m"),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Review: the plan was followed."}}]}


@pytest.mark.django_db
def test_an_unreachable_llm_is_503_llm_unavailable_and_reviews_work_again_once_it_answers(api, account, settings):
    port = faultkit.free_port()
    settings.OPENAI_API_KEY = "sk-drill"
    settings.OPENAI_BASE_URL = f"http://127.0.0.1:{port}/v1"
    settings.OPENAI_MAX_RETRIES = 0
    settings.OPENAI_TIMEOUT_SECONDS = Decimal("2")
    journal = TradeJournal.objects.create(account=account, symbol="OUT", direction="LONG", quantity=Decimal("5"),
                                          entry_price=Decimal("99"), exit_price=Decimal("104"))

    down = api.post(f"/api/v1/journal/{journal.pk}/ai-review")
    journal.refresh_from_db()
    assert (down.status_code, down.json()["code"]) == (503, "llm_unavailable")
    assert (journal.ai_review, journal.journal_status) == (None, TradeJournal.DRAFT)

    with FakeHttpService(port, _chat_completion) as llm:
        back = api.post(f"/api/v1/journal/{journal.pk}/ai-review")  # the first call after the LLM returns

    assert back.status_code == 200, back.json()
    assert (back.json()["ai_review"], back.json()["ai_review_source"]) == ("Review: the plan was followed.", "llm")
    assert [path for path, _ in llm.requests] == ["/v1/chat/completions"]


@pytest.mark.django_db
def test_an_unreachable_telegram_logs_failed_rows_and_delivers_again_once_it_answers(
        account, settings, django_capture_on_commit_callbacks):
    port = faultkit.free_port()
    settings.TELEGRAM_BOT_TOKEN = "123456:drill-secret-token"
    settings.TELEGRAM_CHAT_ID = "42"
    settings.TELEGRAM_API_URL = f"http://127.0.0.1:{port}"
    settings.TELEGRAM_MAX_RETRIES = 0

    def send(title: str) -> NotificationLog:
        with django_capture_on_commit_callbacks(execute=True):
            row = notification_send("telegram", "risk_warning", title, "Daily loss at 3%.", account=account)
        row.refresh_from_db()
        return row

    failed = send("Telegram down")
    with FakeHttpService(port, lambda path, body: {"ok": True, "result": {"message_id": 1}}) as bot:
        sent = send("Telegram back")

    assert (failed.status, sent.status) == (NotificationLog.FAILED, NotificationLog.SENT)
    assert failed.error.startswith("sendMessage: connection failed") and "drill-secret-token" not in failed.error
    ((path, body),) = bot.requests
    assert path == "/bot123456:drill-secret-token/sendMessage"
    assert (body["chat_id"], body["text"]) == ("42", "Telegram back\nDaily loss at 3%.")
