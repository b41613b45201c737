"""A local HTTP server that answers like the Telegram Bot API (the ``bot_api`` fixture of tests/conftest.py)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class FakeBotApi:
    """A local HTTP server that answers like the Telegram Bot API, one scripted answer per request.

    Unscripted requests get ``{"ok": true, "result": {...}}`` (``[]`` for getUpdates).
    """

    url: str = ""
    answers: deque = field(default_factory=deque)
    requests: list = field(default_factory=list)

    def answer(self, status: int = 200, body: dict | None = None, *, delay: float = 0.0, method: str | None = None):
        self.answers.append((method, status, body if body is not None else {"ok": True, "result": {"message_id": 1}}, delay))

    def calls(self, method: str) -> list[dict]:
        return [payload for path, payload in self.requests if path.endswith("/" + method)]

    def _next(self, method: str) -> tuple[int, dict, float]:
        for i, (wanted, status, body, delay) in enumerate(self.answers):
            if wanted in (None, method):
                del self.answers[i]
                return status, body, delay
        return 200, {"ok": True, "result": [] if method == "getUpdates" else {"message_id": 1}}, 0.0


def _handler(api: FakeBotApi):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            api.requests.append((self.path, payload))
            status, body, delay = api._next(self.path.rsplit("/", 1)[-1])
            if delay:
                time.sleep(delay)
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up (timeout test)
                pass

        def log_message(self, *args):
            pass

    return Handler


def bot_api_serve():
    """Start a fake Bot API; yields it and stops it (the body of the ``bot_api`` fixture)."""
    api = FakeBotApi()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(api))
    server.daemon_threads = True
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield api
    server.shutdown()
    server.server_close()
