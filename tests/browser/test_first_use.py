"""A new trader's first hour, walked end to end on a fresh server as ``make run`` starts it.

Log in; the dashboard's charts are drawn on the first load; tag a journal entry and find it in the
weekly report; read the Equity page's numbers against the API; place an order that rests (the ticket says so) and
cancel it (one toast). Debian's Chromium, driven by Playwright, reads what a person sees.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.test_pages import CHROMIUM, PASSWORD, pytestmark  # noqa: F401  (the module marks)
from tests.browser.test_pages import server as server  # noqa: F401  (the fresh server, as a fixture of this module)

# Records every toast the page raises (they dismiss themselves after a few seconds).
TOAST_RECORDER = """() => {
  window.__toasts = [];
  new MutationObserver((changes) => changes.forEach((change) => change.addedNodes.forEach((node) => {
    if (node.classList && node.classList.contains("toast")) window.__toasts.push(node.innerText);
  }))).observe(document.getElementById("toasts"), { childList: true });
}"""


@pytest.fixture(scope="module")
def api(server):
    token = httpx.post(f"{server}/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}).json()["access"]
    with httpx.Client(base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        yield client


def _percent(fraction: str) -> str:
    return f"{Decimal(fraction) * 100:.2f}%"


def test_a_new_trader_walks_the_first_use_path(server, api):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        violations: list[str] = []
        page.on(
            "console", lambda message: "Content Security Policy" in message.text and violations.append(message.text)
        )

        # Log in, and the dashboard's charts are drawn on the very first load.
        page.goto(f"{server}/accounts/login/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        for chart in ("#equity-chart", "#drawdown-chart"):
            expect(page.locator(f"{chart} canvas").first).to_be_visible(timeout=30000)
        assert page.locator(".load-failed").count() == 0

        # Tag a journal entry and see the emotion in that week's report.
        entry = api.get("/journal/list").json()["results"][0]
        page.goto(f"{server}/journal/{entry['id']}/")
        expect(page.locator("#mistakes option").first).to_be_attached()  # the vocabulary loads after the page
        emotions = [o for o in page.locator("#emotion option").all_text_contents() if o != "–"]
        mistakes = page.locator("#mistakes option").all_text_contents()
        assert emotions and mistakes, (emotions, mistakes)
        page.select_option("#emotion", emotions[0])
        page.select_option("#mistakes", mistakes[0])
        page.click("#edit button[type=submit]")
        expect(page.locator("#edit-result .notice.ok")).to_be_visible()
        saved = api.get(f"/journal/{entry['id']}").json()
        assert (saved["emotion_state"], saved["mistake_tags"]) == (emotions[0], [mistakes[0]])
        page.goto(f"{server}/journal/")
        page.fill("#weekly [name=date]", entry["exit_date"] or entry["entry_date"])
        page.click("#weekly button[type=submit]")
        expect(page.locator("#weekly-result")).to_contain_text(emotions[0])

        # The Equity page's numbers are the API's, in percent.
        end = dt.datetime.now(ZoneInfo("America/New_York")).date()
        stats = api.get("/equity/stats", params={"start_date": end - dt.timedelta(days=364), "end_date": end}).json()
        page.goto(f"{server}/equity/")
        expect(page.locator("#stat-return")).to_have_text(_percent(stats["total_return"]))
        expect(page.locator("#stat-spy")).to_have_text(_percent(stats["benchmark_total_return"]))

        # Place an order that rests below the market (the ticket says so), then cancel it: one toast.
        price = Decimal(api.get("/market/quotes/AAPL").json()["price"])
        limit = (price * Decimal("0.9")).quantize(Decimal("0.01"))
        page.goto(f"{server}/orders/")
        page.wait_for_selector("#live-status.ok", timeout=15000)
        page.evaluate(TOAST_RECORDER)
        page.fill("#ticket input[name=symbol]", "AAPL")
        page.fill("#ticket input[name=quantity]", "3")
        page.select_option("#ticket select[name=order_type]", "LIMIT")
        page.fill("#ticket input[name=limit_price]", str(limit))
        page.click("#ticket button[type=submit]")
        row = page.locator("#open-orders tbody tr", has_text="AAPL")
        expect(row).to_be_visible(timeout=15000)
        order = api.get("/orders/history", params={"limit": 1}).json()["results"][0]
        assert (order["status"], order["limit_price"]) == ("ACCEPTED", f"{limit:.6f}")
        expect(page.locator("#ticket-result .notice.ok")).to_be_visible()  # placing it is said on the ticket
        row.get_by_role("button", name="Cancel").click()
        row.get_by_role("button", name="Yes, cancel").click()
        expect(page.locator("#open-orders")).to_contain_text("No open orders.", timeout=15000)
        page.wait_for_function("() => window.__toasts.length >= 1", timeout=15000)
        toasts = page.evaluate("window.__toasts")
        assert len(toasts) == 1 and toasts[0].startswith(f"Order #{order['id']} cancelled"), toasts
        assert api.get(f"/orders/{order['id']}/status").json()["status"] == "CANCELLED"
        assert violations == []
        browser.close()
