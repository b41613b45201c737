"""Fixtures of the journal tests: fills via the ORM, a closed trade with plan, signal and bars, a local LLM server."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

NY = ZoneInfo("America/New_York")
_ids = itertools.count(1)
ENTRY_DAY, EXIT_DAY = dt.date(2026, 3, 2), dt.date(2026, 3, 5)


def _closes(n: int) -> list[str]:
    """A deterministic zig-zag uptrend, so RSI, MACD and the SMA distance are all defined and non-trivial."""
    return [f"{90 + 0.2 * i + (3 if i % 5 < 2 else -2) * (i % 3):.2f}" for i in range(n)]


@pytest.fixture
def fill_factory(db):
    from orders.models import Fill, Order

    def _make(account, symbol: str, side: str, quantity, price, at: dt.datetime, *, commission="0",
              strategy_tag: str = "", plan=None) -> Fill:
        quantity, price = Decimal(str(quantity)), Decimal(str(price))
        order = Order.objects.create(
            account=account, plan=plan, client_order_id=f"test-{next(_ids)}", symbol=symbol, side=side,
            quantity=quantity, status=Order.FILLED, filled_quantity=quantity, avg_fill_price=price,
            strategy_tag=strategy_tag, filled_at=at,
        )
        return Fill.objects.create(
            order=order, account=account, symbol=symbol, side=side, quantity=quantity, price=price,
            commission=Decimal(str(commission)), executed_at=at,
        )

    return _make


@pytest.fixture
def fresh_api():
    """``fresh_api(user)``: a JWT client whose token is issued now (inside a ``time_machine`` travel)."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    def _make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return _make


@pytest.fixture
def acme_closes() -> list[str]:
    return _closes(80)


@pytest.fixture
def closed_trade(account, fill_factory, bars_factory, acme_closes):
    """ACME: a plan (entry 100, stop 95, target 115) from a signal; bought 50 @ 101 Mon, sold @ 111 Thu.

    Returns the DRAFT journal entry the closed trade created.
    """
    from equity.services import attribution_record_fill
    from factors.models import Signal
    from journal.models import TradeJournal
    from orders.models import TradingPlan

    bars_factory("ACME", acme_closes, end=EXIT_DAY)
    signal = Signal.objects.create(
        symbol="ACME", as_of=dt.date(2026, 2, 27), direction="LONG", strength=Decimal("0.7500"),
        score=Decimal("1.25"), factors={"mom_12_1": 1.2, "rsi_14": -0.4}, win_rate=Decimal("0.5800"),
        rr_ratio=Decimal("1.9000"), sample_size=140,
    )
    plan = TradingPlan.objects.create(
        account=account, symbol="ACME", direction="LONG", entry_price=Decimal("100"), stop_price=Decimal("95"),
        target_price=Decimal("115"), quantity=Decimal("50"), signal=signal, strategy_tag="breakout",
    )
    buy = fill_factory(account, "ACME", "BUY", 50, "101", dt.datetime.combine(ENTRY_DAY, dt.time(10), tzinfo=NY),
                       commission="1.00", strategy_tag="breakout", plan=plan)
    attribution_record_fill(fill=buy)
    sell = fill_factory(account, "ACME", "SELL", 50, "111", dt.datetime.combine(EXIT_DAY, dt.time(15), tzinfo=NY),
                        commission="1.00")
    attribution_record_fill(fill=sell)
    return TradeJournal.objects.get(account=account, symbol="ACME")


class FakeLLM:
    """A local OpenAI-compatible server: records every request and answers as ``mode`` says."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.mode = "ok"
        self.answer = "Outcome: a clean 2R winner. Plan adherence: followed."
        self.delay = 1.5
        self.fail_first = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                fake.requests.append({"path": self.path, "headers": headers, "json": json.loads(body)})
                mode = fake.mode
                if fake.fail_first:
                    fake.fail_first -= 1
                    mode = "500"
                if mode == "sleep":
                    time.sleep(fake.delay)
                if mode == "500":
                    self._send(500, b'{"error": {"message": "model crashed"}}', {"retry-after-ms": "10"})
                elif mode == "not_json":
                    self._send(200, b'{"choices": [', {})
                elif mode == "no_choices":
                    self._send(200, b'{"id": "x", "object": "chat.completion", "choices": []}', {})
                else:
                    answer = {
                        "id": "chatcmpl-test", "object": "chat.completion", "created": 1, "model": "local-model",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": fake.answer}}],
                    }
                    self._send(200, json.dumps(answer).encode(), {})

            def _send(self, status: int, body: bytes, headers: dict) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout test)

        return Handler


@pytest.fixture
def llm(settings):
    """The LLM configured against a local chat-completions server on 127.0.0.1 (no retries, 0.3 s timeout)."""
    fake = FakeLLM()
    fake.thread.start()
    settings.OPENAI_API_KEY = "sk-test-local"
    settings.OPENAI_BASE_URL = fake.base_url
    settings.OPENAI_MODEL = "local-model"
    settings.OPENAI_TIMEOUT_SECONDS = Decimal("0.3")
    settings.OPENAI_MAX_RETRIES = 0
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


@pytest.fixture
def no_llm(settings):
    settings.OPENAI_API_KEY = ""
