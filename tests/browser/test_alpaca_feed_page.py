"""MARKET_FEED=alpaca in a real browser: ``manage.py serve`` streams (a local) Alpaca's trades to the dashboard.

The fake Alpaca runs in this test process; the server's feed subscribes to it over msgpack, as it would to
``wss://stream.data.alpaca.markets``. Every step waits for what it needs (a subscription, a price on the page,
a toast), never for a fixed time.
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
PASSWORD = "browser-test-pass-123"

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
        yield fake


@pytest.fixture(scope="module")
def server(tmp_path_factory, alpaca):
    workdir = tmp_path_factory.mktemp("alphaloop")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "alphaloop.settings", "DEBUG": "false",
        "SECRET_KEY": "browser-test-secret-key-0123456789-abcdefghijklmnopqrst",
        "JWT_SIGNING_KEY": "browser-test-jwt-key-0123456789-abcdefghijklmnopqrstuvw",
        "ALPHALOOP_VAR_DIR": str(workdir), "ALPHALOOP_ENV_FILE": str(workdir / "none.env"),
        "DATABASE_URL": f"sqlite:///{workdir / 'browser.sqlite3'}", "ALPHALOOP_ADMIN_PASSWORD": PASSWORD,
        "MARKET_FEED": "alpaca", "MARKET_FEED_WATCHLIST": "SPY", "MARKET_FEED_INTERVAL_SECONDS": "0.2",
        "MARKET_FEED_REFRESH_SECONDS": "0.5", "TRADING_HOURS_ONLY": "false",
        **{name: str(value).lower() if isinstance(value, bool) else value for name, value in alpaca.settings().items()},
    })
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "bootstrap"], env=env, check=True, cwd=ROOT, capture_output=True)
    port = _free_port()
    log = open(workdir / "serve.log", "w")  # a file, not a pipe: an unread pipe fills and blocks the server
    process = subprocess.Popen([*manage, "serve", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
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
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("serve did not stop within 30 s of SIGTERM: " + (workdir / "serve.log").read_text()[-4000:])
    finally:
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


def test_real_trades_move_the_dashboard_ticker_and_fire_an_alert(server, page, alpaca):
    token = httpx.post(f"{server}/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}).json()["access"]
    headers = {"Authorization": f"Bearer {token}"}
    page.goto(f"{server}/")
    page.wait_for_selector("#live-status.ok", timeout=15000)
    page.wait_for_selector('#ticker [data-price="SPY"]')
    alpaca.wait_for_subscriptions(lambda symbols: "SPY" in symbols, timeout=30)

    alpaca.push_trade("SPY", "612.34", 100)
    expect(page.locator('#ticker [data-price="SPY"]')).to_have_text("612.34", timeout=15000)

    created = httpx.post(f"{server}/api/v1/alerts/create", headers=headers,
                         json={"symbol": "AAPL", "condition_type": "price_above", "threshold": "250.00"})
    assert created.status_code == 201, created.text
    alpaca.wait_for_subscriptions(lambda symbols: "AAPL" in symbols, timeout=30)  # the feed follows the alert
    alpaca.push_trade("AAPL", "250.75", 300)

    toast = page.wait_for_selector(".toast.alert", timeout=15000)
    assert "AAPL" in toast.text_content()
    alert = httpx.get(f"{server}/api/v1/alerts/{created.json()['id']}", headers=headers).json()
    assert alert["alert_status"] == "TRIGGERED"
    quote = httpx.get(f"{server}/api/v1/market/quotes/AAPL", headers=headers).json()
    assert quote["price"].startswith("250.75")
