"""The navbar's trading-mode badge and the Orders page's broker panel, with the account at a local Alpaca.

A real ``manage.py serve`` (ORDER_MODE=REAL, BROKER=alpaca, no beat, no feed) on a temporary SQLite
database, talking to the fake Alpaca of tests/alpaca_fake in this process. A position was changed at the
broker before AlphaLoop connected: the trade stream's connection reconciles and finds it, and Chromium
reads what the page shows; ``manage.py reconcile_broker`` then finds the same mismatch, already recorded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.alpaca_fake import FakeAlpaca

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "broker-panel-pass-123"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make test installs it)"),
    pytest.mark.skipif(bool(os.environ.get("ALPHALOOP_SERVICES_RUN")), reason="runs once, on the embedded default"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def alpaca():
    with FakeAlpaca() as fake:
        fake.set_position("AAPL", "7", "150")  # changed at the broker, outside AlphaLoop
        yield fake


@pytest.fixture(scope="module")
def server_env(tmp_path_factory, alpaca):
    workdir = tmp_path_factory.mktemp("alphaloop-broker")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "alphaloop.settings", "DEBUG": "false",
        "SECRET_KEY": "broker-panel-secret-key-0123456789-abcdefghijklmnopqrst",
        "JWT_SIGNING_KEY": "broker-panel-jwt-key-0123456789-abcdefghijklmnopqrstuvw",
        "ALPHALOOP_VAR_DIR": str(workdir), "ALPHALOOP_ENV_FILE": str(workdir / "none.env"),
        "DATABASE_URL": f"sqlite:///{workdir / 'broker.sqlite3'}", "ALPHALOOP_ADMIN_PASSWORD": PASSWORD,
        "MARKET_FEED": "none", "ORDER_MODE": "REAL", "BROKER": "alpaca", "BROKER_MISMATCH_ACTION": "reduce",
        **{name: str(value).lower() if isinstance(value, bool) else value for name, value in alpaca.settings().items()},
    })
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "bootstrap", "--no-seed"], env=env, check=True, cwd=ROOT, capture_output=True)
    return env, workdir


@pytest.fixture(scope="module")
def server(server_env):
    env, workdir = server_env
    port = _free_port()
    log = open(workdir / "serve.log", "w")  # a file, not a pipe: an unread pipe fills and blocks the server
    process = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "serve", "--no-beat", "--port", str(port)],
                               env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            if httpx.get(f"{base}/accounts/login/", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("server did not start: " + (workdir / "serve.log").read_text())
    yield base
    process.terminate()
    process.wait(timeout=15)
    log.close()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        page.goto(f"{server}/accounts/login/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        yield page
        browser.close()


def test_the_badge_says_alpaca_paper_and_the_orders_page_shows_the_broker_and_its_mismatch(
        server, server_env, page, alpaca):
    env, _ = server_env
    badge = page.locator("#trading-mode")
    expect(badge).to_have_text("ALPACA PAPER")
    expect(badge).to_have_class("mode mode-alpaca-paper")

    rows = page.locator("#broker-mismatches tbody tr")
    deadline = time.monotonic() + 90
    while True:  # the stream worker connects, catches up, then reconciles
        page.goto(f"{server}/orders/")
        if rows.count() == 1 or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    expect(page.locator("#broker-panel h2")).to_have_text("Broker ALPACA PAPER")
    expect(page.locator("#broker-connection")).to_have_text("Connected.")
    expect(page.locator("#broker-last-reconciliation")).to_contain_text(
        "broker cash $100000.00, equity $101050.00, buying power $")  # 100,000 + 7 x 150 (Alpaca's mark: cost)
    expect(page.locator("#broker-last-reconciliation")).to_contain_text("BROKER_MISMATCH_ACTION=reduce")
    row = rows
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(1)).to_have_text("Position")
    expect(row.locator("td").nth(2)).to_have_text("AAPL")
    expect(row.locator("td").nth(3)).to_have_text("0")
    expect(row.locator("td").nth(4)).to_have_text("7")

    reconciled = subprocess.run([sys.executable, str(ROOT / "manage.py"), "reconcile_broker"], env=env, cwd=ROOT,
                                capture_output=True, text=True, timeout=120, check=True)
    assert "mismatch; 0 execution(s) imported, 0 new mismatch(es), 0 resolved" in reconciled.stdout
