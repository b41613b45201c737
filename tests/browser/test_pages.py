"""The new user's path in a real browser (Debian's Chromium driven by Playwright).

A real ``manage.py serve`` (Daphne, embedded beat, in-memory channel layer) runs on a temporary
SQLite database seeded with the demo data, exactly as ``make run`` would. Every page is served with
the strict Content-Security-Policy; a violation reported by the browser fails the run. ``make
screenshots`` saves the README's pictures of every page in ``docs/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
# `make screenshots` writes the README's pictures (docs/screenshots); a plain test run keeps its own in var/.
SHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or ROOT / "var" / "screenshots")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "browser-test-pass-123"
CSP_VIOLATIONS: list[str] = []

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
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("alphaloop")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "alphaloop.settings", "DEBUG": "false",
        "SECRET_KEY": "browser-test-secret-key-0123456789-abcdefghijklmnopqrst", "JWT_SIGNING_KEY": "browser-test-jwt-key-0123456789-abcdefghijklmnopqrstuvw",
        "ALPHALOOP_VAR_DIR": str(workdir), "ALPHALOOP_ENV_FILE": str(workdir / "none.env"),
        "DATABASE_URL": f"sqlite:///{workdir / 'browser.sqlite3'}", "ALPHALOOP_ADMIN_PASSWORD": PASSWORD,
        "MARKET_FEED": "none", "TRADING_HOURS_ONLY": "false", "MAX_ORDERS_PER_MINUTE": "100",
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
    process.wait(timeout=15)
    log.close()


@pytest.fixture(scope="module")
def token(server) -> str:
    response = httpx.post(f"{server}/api/v1/auth/token", json={"username": "admin", "password": PASSWORD})
    return response.json()["access"]


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    CSP_VIOLATIONS.clear()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.on("console", lambda message: "Content Security Policy" in message.text and CSP_VIOLATIONS.append(message.text))
        page.goto(f"{server}/accounts/login/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        yield page
        browser.close()


def _money(value: str) -> str:
    return "${:,.2f}".format(Decimal(value))


def test_dashboard_numbers_match_the_api_and_prices_are_live(server, token, page):
    summary = httpx.get(f"{server}/api/v1/dashboard/summary", headers={"Authorization": f"Bearer {token}"}).json()
    page.goto(f"{server}/")
    expect(page.locator("#total_equity")).not_to_have_text("…")
    assert page.text_content("#total_equity") == _money(summary["total_equity"])
    assert page.text_content("#cash") == _money(summary["cash"])
    assert page.text_content("#risk_level") == summary["risk_level"]
    page.wait_for_selector("#live-status.ok", timeout=10000)
    page.wait_for_selector("#ticker .tick")
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)


def test_an_alert_created_in_the_page_fires_live_as_a_toast(server, token, page):
    headers = {"Authorization": f"Bearer {token}"}
    price = Decimal(httpx.get(f"{server}/api/v1/market/quotes/AAPL", headers=headers).json()["price"])
    page.goto(f"{server}/alerts/")
    page.wait_for_selector("#live-status.ok", timeout=10000)
    page.fill("#alert-form input[name=symbol]", "AAPL")
    page.select_option("#alert-form select[name=condition_type]", "price_above")
    page.fill("#alert-form input[name=threshold]", str((price + 5).quantize(Decimal("0.01"))))
    page.click("#alert-form button[type=submit]")
    page.wait_for_selector("#alert-result .notice.ok")
    injected = httpx.post(f"{server}/api/v1/market/quotes", headers=headers,
                          json={"symbol": "AAPL", "price": str((price + 6).quantize(Decimal("0.01")))})
    assert injected.status_code == 201
    toast = page.wait_for_selector(".toast.alert", timeout=10000)
    assert "AAPL" in toast.text_content()
    page.wait_for_selector("text=TRIGGERED", timeout=10000)
    page.screenshot(path=str(SHOTS / "alerts.png"), full_page=True)


def test_the_order_ticket_shows_the_guard_refusal_with_its_reason(server, page):
    page.goto(f"{server}/orders/")
    page.fill("#ticket input[name=symbol]", "AAPL")
    page.fill("#ticket input[name=quantity]", "100000")
    page.click("#check")
    refusal = page.wait_for_selector("#ticket-result .notice.bad")
    assert "max_order_pct" in refusal.text_content()
    page.click("#ticket button[type=submit]")
    expect(page.locator("#ticket-result .notice.bad")).to_contain_text("Refused")
    page.fill("#ticket input[name=quantity]", "5")
    page.click("#ticket button[type=submit]")
    page.wait_for_selector("#ticket-result .notice.ok", timeout=10000)
    page.wait_for_selector("#positions td:text('AAPL')", timeout=10000)
    page.screenshot(path=str(SHOTS / "orders.png"), full_page=True)


def test_a_backtest_runs_from_the_page_and_shows_its_curve(server, page):
    page.goto(f"{server}/backtests/")
    page.wait_for_selector("#strategy option[value=sma_cross]", state="attached")
    page.fill("#run-form input[name=symbols]", "AAPL")
    page.click("#run-form button[type=submit]")
    page.wait_for_selector("#run-status .notice.ok", timeout=30000)
    page.wait_for_selector("#bt-chart canvas")
    assert "Sharpe" in page.text_content("#bt-metrics")
    page.screenshot(path=str(SHOTS / "backtests.png"), full_page=True)


@pytest.mark.parametrize("path,name", [("/equity/", "equity"), ("/journal/", "journal"), ("/signals/", "signals")])
def test_every_other_page_renders_for_screenshots(server, page, path, name):
    page.goto(f"{server}{path}")
    page.wait_for_load_state("networkidle")
    assert page.locator(".notice.bad").count() == 0
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_pages_are_readable_at_phone_width(server, page):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server}/")
    expect(page.locator("#total_equity")).not_to_have_text("…")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1
    page.screenshot(path=str(SHOTS / "dashboard-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})


def test_no_page_broke_the_content_security_policy(page):
    """Runs last: every page above was loaded and used under the strict CSP."""
    assert CSP_VIOLATIONS == []
