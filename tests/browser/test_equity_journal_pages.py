"""The dashboard charts, the Equity page and the Journal as a trader reads them (Debian's Chromium, Playwright).

A real ``manage.py serve`` on a temporary SQLite database seeded with the demo year (``bootstrap``),
as ``make run`` would. Failures are made with ``page.route`` (the API call answers 500 or the
network drops); every assertion reads what the page shows and compares it with the API.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "equity-journal-pass-123"
SNAPSHOTS = "**/api/v1/equity/snapshots?*"

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
    workdir = tmp_path_factory.mktemp("alphaloop-equity-journal")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "alphaloop.settings", "DEBUG": "false",
        "SECRET_KEY": "equity-journal-secret-key-0123456789-abcdefghijklmnopqrst",
        "JWT_SIGNING_KEY": "equity-journal-jwt-key-0123456789-abcdefghijklmnopqrstuv",
        "ALPHALOOP_VAR_DIR": str(workdir), "ALPHALOOP_ENV_FILE": str(workdir / "none.env"),
        "DATABASE_URL": f"sqlite:///{workdir / 'pages.sqlite3'}", "ALPHALOOP_ADMIN_PASSWORD": PASSWORD,
        "MARKET_FEED": "none", "TRADING_HOURS_ONLY": "false",
    })
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "bootstrap"], env=env, check=True, cwd=ROOT, capture_output=True)
    port = _free_port()
    log = open(workdir / "serve.log", "w")  # a file, not a pipe: an unread pipe fills and blocks the server
    process = subprocess.Popen([*manage, "serve", "--port", str(port)], env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT, text=True)
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
def api(server):
    token = httpx.post(f"{server}/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}).json()["access"]
    with httpx.Client(base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        yield client


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


def _percent(fraction: str) -> str:
    return f"{Decimal(fraction) * 100:.2f}%"


# --- charts whose data fails (issue 14.1) ----------------------------------------------------------


def test_dashboard_charts_say_their_data_failed_and_draw_after_retry(server, page):
    page.route(SNAPSHOTS, lambda route: route.fulfill(status=500, content_type="application/json",
                                                      body='{"detail": "boom"}'))
    page.goto(f"{server}/")
    for chart in ("#equity-chart", "#drawdown-chart"):
        expect(page.locator(f"{chart} .load-failed")).to_contain_text(
            "Could not load the equity history: the server answered 500.")
        expect(page.locator(f"{chart} button.retry")).to_be_visible()
        assert page.locator(f"{chart} canvas").count() == 0

    page.unroute(SNAPSHOTS)
    page.click("#equity-chart button.retry")
    for chart in ("#equity-chart", "#drawdown-chart"):
        expect(page.locator(f"{chart} canvas").first).to_be_visible()
        assert page.locator(f"{chart} .load-failed").count() == 0


def test_the_equity_curve_says_the_network_failed_and_draws_after_retry(server, page):
    page.route(SNAPSHOTS, lambda route: route.abort("connectionfailed"))
    page.goto(f"{server}/equity/")
    expect(page.locator("#curve .load-failed")).to_contain_text(
        "Could not load the equity history: the server could not be reached.")
    expect(page.locator("#stat-return")).to_be_visible()  # the other panels load on their own

    page.unroute(SNAPSHOTS)
    page.click("#curve button.retry")
    expect(page.locator("#curve canvas").first).to_be_visible()
    expect(page.locator("#curve-account")).to_contain_text("Account ")


# --- the Equity page's numbers (issue 14.3) --------------------------------------------------------


def test_the_equity_page_numbers_are_the_apis_in_percent_over_one_window(server, api, page):
    end = dt.datetime.now(ZoneInfo("America/New_York")).date()
    start = end - dt.timedelta(days=364)  # the page's "1 year": 365 calendar days, today included
    stats = api.get("/equity/stats", params={"start_date": start, "end_date": end}).json()
    by_symbol = api.get("/equity/pnl-attribution",
                        params={"start_date": start, "end_date": end, "group_by": "symbol"}).json()["attributions"]
    assert stats["benchmark_total_return"] is not None and len(by_symbol) > 2

    page.goto(f"{server}/equity/")
    expect(page.locator("#stat-return")).to_have_text(_percent(stats["total_return"]))
    expect(page.locator("#stat-spy")).to_have_text(_percent(stats["benchmark_total_return"]))
    expect(page.locator("#stat-alpha")).to_have_text(_percent(stats["alpha"]))
    # The chart over the same window ends where the cards say.
    expect(page.locator("#curve-account")).to_have_text("Account " + _percent(stats["total_return"]))
    expect(page.locator("#curve-spy")).to_have_text("SPY " + _percent(stats["benchmark_total_return"]))

    rows = page.locator("#by-symbol tbody tr")
    expect(rows).to_have_count(len(by_symbol))
    shown = [(rows.nth(i).locator("td").nth(0).text_content(), rows.nth(i).locator("td").nth(2).text_content())
             for i in range(len(by_symbol))]
    assert shown == [(a["label"], f"{a['pct']}%") for a in by_symbol]  # pct is percent already
    top = max(by_symbol, key=lambda a: abs(Decimal(a["pct"])))
    assert abs(Decimal(top["pct"])) > 5  # percent, not a fraction printed with a % sign
