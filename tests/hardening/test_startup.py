"""A fresh server answers its first requests, all at once, without a 5xx (issue 14.1).

The OpenAPI schema the request contract checks bodies and queries against is built once, before the
server listens, under a lock; built lazily by several first requests in parallel it raised
``ModuleNotFoundError``/``AttributeError`` inside drf-spectacular and answered 500.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import faultkit  # noqa: E402

SETUP = """
import json
from django.contrib.auth import get_user_model
from rest_framework_simplejwt.tokens import AccessToken
user = get_user_model().objects.create_user("first", password="first-start-password-1")
print(json.dumps({"token": str(AccessToken.for_user(user))}))
"""
# What a dashboard and a script ask for in the first second: reads with query strings (checked by the
# contract), a body (checked by the contract), and the schema itself.
FIRST_REQUESTS = [
    ("GET", "/api/v1/equity/snapshots?days=30", None),
    ("GET", "/api/v1/equity/stats", None),
    ("GET", "/api/v1/orders/history?limit=20", None),
    ("GET", "/api/v1/alerts/list?status=ACTIVE", None),
    ("GET", "/api/v1/plans/", None),
    ("GET", "/api/v1/notifications/list", None),
    ("POST", "/api/v1/orders/preview", {"symbol": "ZZZ", "side": "BUY", "quantity": "1", "order_type": "MARKET"}),
    ("GET", "/api/schema/?format=json", None),
]


def test_a_fresh_server_answers_eight_simultaneous_first_requests_without_a_5xx(tmp_path, processes):
    env = faultkit.base_env(DATABASE_URL=f"sqlite:///{tmp_path / 'site.sqlite3'}", ALPHALOOP_VAR_DIR=str(tmp_path),
                            REDIS_URL="", LOG_LEVEL="WARNING")
    subprocess.run([faultkit.PYTHON, "manage.py", "migrate", "-v", "0"], cwd=faultkit.ROOT, env=env, check=True)
    out = subprocess.run([faultkit.PYTHON, "manage.py", "shell", "-v", "0", "-c", SETUP], cwd=faultkit.ROOT, env=env,
                         check=True, capture_output=True, text=True).stdout
    token = json.loads(out.strip().splitlines()[-1])["token"]
    port = faultkit.free_port()
    server = faultkit.web_server(env, tmp_path / "server.log", port)
    processes.append(server)

    start = threading.Barrier(len(FIRST_REQUESTS))
    answers: dict[str, tuple[int, str]] = {}

    def send(method: str, path: str, body: dict | None) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60,
                          headers={"Authorization": f"Bearer {token}"}) as client:
            start.wait()
            response = client.request(method, path, json=body)
            answers[f"{method} {path}"] = (response.status_code, response.text[:200])

    threads = [threading.Thread(target=send, args=request) for request in FIRST_REQUESTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert len(answers) == len(FIRST_REQUESTS)
    assert {key: answer for key, answer in answers.items() if answer[0] >= 500} == {}
    assert answers["GET /api/schema/?format=json"][0] == 200
    assert "Traceback" not in server.output()
