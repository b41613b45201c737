"""Swagger UI under the strict CSP, the Alerts page's inline threshold editing, and the pages at phone width
(390 px), as a person sees them in Debian's Chromium driven by Playwright.

A real ``manage.py serve`` runs on a temporary SQLite database seeded with the demo data, as in
``test_pages.py``. Every Content-Security-Policy violation the browser reports is recorded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.test_pages import CHROMIUM, PASSWORD, ROOT, _free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make test installs it)"),
    pytest.mark.skipif(bool(os.environ.get("ALPHALOOP_SERVICES_RUN")), reason="runs once, on the embedded default"),
]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("alphaloop")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "alphaloop.settings", "DEBUG": "false",
        "SECRET_KEY": "browser-test-secret-key-0123456789-abcdefghijklmnopqrst",
        "JWT_SIGNING_KEY": "browser-test-jwt-key-0123456789-abcdefghijklmnopqrstuvw",
        "ALPHALOOP_VAR_DIR": str(workdir), "ALPHALOOP_ENV_FILE": str(workdir / "none.env"),
        "DATABASE_URL": f"sqlite:///{workdir / 'browser.sqlite3'}", "ALPHALOOP_ADMIN_PASSWORD": PASSWORD,
        "MARKET_FEED": "none",
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
def api(server):
    token = httpx.post(f"{server}/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}).json()["access"]
    with httpx.Client(base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    """A logged-in admin's page; ``page.csp`` and ``page.dialogs`` record CSP violations and native dialogs."""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.csp, page.dialogs = [], []
    page.on("console", lambda message: "Content Security Policy" in message.text and page.csp.append(message.text))
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{server}/accounts/login/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    yield page
    context.close()


def _alert(api, threshold: str) -> dict:
    response = api.post("/alerts/create", json={"symbol": "AAPL", "condition_type": "price_above", "threshold": threshold})
    assert response.status_code == 201, response.text
    return response.json()


def _row(page, alert_id: int):
    """The Alerts table's row of one alert (its first cell is the id)."""
    return page.locator("#alerts-table tbody tr").filter(
        has=page.locator("td:first-child", has_text=re.compile(rf"^{alert_id}$")))


# --- Swagger UI -----------------------------------------------------------------------------------


def test_the_api_docs_render_every_operation_without_a_csp_violation(server, page):
    page.goto(f"{server}/api/docs/")

    expect(page.locator(".opblock-summary-path", has_text="/api/v1/orders/submit")).to_be_visible(timeout=20000)
    page.locator(".opblock-summary", has_text="/api/v1/orders/submit").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")

    assert page.csp == []
    assert background == "rgb(250, 250, 250)"  # the page's own stylesheet applied (it was an inline <style>)


# --- Alerts: inline threshold editing -----------------------------------------------------------


def test_a_threshold_is_edited_in_its_row_without_a_browser_prompt(server, api, page):
    alert = _alert(api, "250")
    page.goto(f"{server}/alerts/")
    row = _row(page, alert["id"])

    row.get_by_role("button", name="Edit").click()
    field = row.get_by_role("textbox", name="Threshold")
    expect(field).to_have_value("250")
    field.fill("262.5")
    field.press("Enter")

    expect(row.locator("td").nth(3)).to_have_text("262.5")
    assert api.get(f"/alerts/{alert['id']}").json()["threshold"] == "262.500000"
    assert page.dialogs == []


def test_a_refused_threshold_says_why_and_escape_keeps_the_old_one(server, api, page):
    alert = _alert(api, "240")
    page.goto(f"{server}/alerts/")
    row = _row(page, alert["id"])

    row.get_by_role("button", name="Edit").click()
    field = row.get_by_role("textbox", name="Threshold")
    field.fill("-5")
    row.get_by_role("button", name="Save").click()
    expect(row.locator(".notice.bad, .field-error")).to_contain_text("threshold")
    field.press("Escape")

    expect(row.locator("td").nth(3)).to_have_text("240")
    assert Decimal(api.get(f"/alerts/{alert['id']}").json()["threshold"]) == Decimal("240")
    assert page.dialogs == []


# --- phone width ------------------------------------------------------------------------------------


def _box(locator) -> dict:
    box = locator.bounding_box()
    assert box is not None, "not displayed"
    return box


def test_at_phone_width_the_navbar_is_one_compact_row_with_a_menu(server, page):
    page.set_viewport_size(PHONE)
    page.goto(f"{server}/")
    expect(page.locator("#total_equity")).not_to_have_text("…")

    header = _box(page.locator("header.topbar"))
    journal_link = page.locator("header nav").get_by_role("link", name="Journal", exact=True)
    hidden_before = not journal_link.is_visible()
    page.get_by_role("button", name="Menu").click()
    expect(journal_link).to_be_visible()
    journal_link.click()
    page.wait_for_url(f"{server}/journal/")

    assert header["height"] <= 64, header
    assert hidden_before
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1


def test_at_phone_width_the_alert_buttons_are_on_screen(server, api, page):
    _alert(api, "270")
    page.set_viewport_size(PHONE)
    page.goto(f"{server}/alerts/")
    row = page.locator("#alerts-table tbody tr").first
    expect(row).to_be_visible()

    buttons = [_box(row.get_by_role("button", name=name)) for name in ("Pause", "Edit", "Delete")]

    assert all(0 <= b["x"] and b["x"] + b["width"] <= PHONE["width"] for b in buttons), buttons
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1


def test_at_phone_width_the_journal_shows_each_entrys_pnl(server, page):
    page.set_viewport_size(PHONE)
    page.goto(f"{server}/journal/")
    header = page.locator("#journal th", has_text="P&L")
    expect(header).to_be_visible()

    column = _box(header)
    first_pnl = page.locator("#journal tbody tr").first.locator("td").nth(
        page.locator("#journal th").evaluate_all("(ths) => ths.findIndex((th) => th.textContent === 'P&L')"))

    assert column["x"] + column["width"] <= PHONE["width"], column
    assert first_pnl.text_content().startswith(("$", "-$", "–"))
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
