"""The Orders page and the navbar's market session as a trader reads them (Debian's Chromium, Playwright).

A real ``manage.py serve`` on a temporary SQLite database with the synthetic universe (no demo
history, no feed: prices move only when a test injects a tick), with ``TRADING_HOURS_ONLY`` on as
in production, on a clock the tests set (``clocked_serve.py``): it starts at 08:00 ET on the next
NYSE half day and only ever moves forward. Every assertion reads what the page shows: the navbar,
the notices, the toasts, the tables.
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

import signal
from datetime import date, datetime, timedelta

import httpx
import pytest
from playwright.sync_api import expect

from marketdata import calendar

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "orders-page-pass-123"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make test installs it)"),
    pytest.mark.skipif(bool(os.environ.get("ALPHALOOP_SERVICES_RUN")), reason="runs once, on the embedded default"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def next_half_day(after: date) -> date:
    """The first NYSE half day (13:00 ET close) after ``after``."""
    day = calendar.next_session(after)
    while calendar.regular_hours(day)[1].hour >= 16:
        day = calendar.next_session(day)
    return day


@pytest.fixture(scope="module")
def half_day() -> date:
    return next_half_day(date.today())


@pytest.fixture(scope="module")
def server(tmp_path_factory, half_day):
    workdir = tmp_path_factory.mktemp("alphaloop-orders")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "alphaloop.settings", "DEBUG": "false",
        "SECRET_KEY": "orders-page-secret-key-0123456789-abcdefghijklmnopqrst", "JWT_SIGNING_KEY": "orders-page-jwt-key-0123456789-abcdefghijklmnopqrstuvw",
        "ALPHALOOP_VAR_DIR": str(workdir), "ALPHALOOP_ENV_FILE": str(workdir / "none.env"),
        "DATABASE_URL": f"sqlite:///{workdir / 'orders.sqlite3'}", "ALPHALOOP_ADMIN_PASSWORD": PASSWORD,
        "MARKET_FEED": "none", "TRADING_HOURS_ONLY": "true", "MAX_ORDERS_PER_MINUTE": "100",
        "JWT_ACCESS_MINUTES": "4320",  # the test's API token outlives the clock's jumps (two days at most)
        "ALPHALOOP_TEST_CLOCK": calendar.regular_hours(half_day)[0].replace(hour=8, minute=0).isoformat(),
        "ALPHALOOP_TEST_CLOCK_FILE": str(workdir / "clock"),
    })
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "bootstrap", "--no-seed"], env=env, check=True, cwd=ROOT, capture_output=True)
    subprocess.run([*manage, "seed_demo", "--no-history"], env=env, check=True, cwd=ROOT, capture_output=True)
    port = _free_port()
    log = open(workdir / "serve.log", "w")  # a file, not a pipe: an unread pipe fills and blocks the server
    process = subprocess.Popen([sys.executable, str(ROOT / "tests" / "browser" / "clocked_serve.py"), "--port", str(port)],
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
    # One API request before the browser's concurrent ones: the request contract layer builds the
    # OpenAPI schema lazily on the first requests and concurrent first requests break it (issue 14,
    # item 1, fixed in that layer); this module tests the Orders page, not that start-up race.
    httpx.post(f"{base}/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}, timeout=30)
    process.clock_file = workdir / "clock"
    yield base, process
    process.terminate()
    process.wait(timeout=15)
    log.close()


@pytest.fixture(scope="module")
def server_url(server) -> str:
    return server[0]


@pytest.fixture(scope="module")
def clock(server, api):
    """``clock.now()``: the server's time; ``clock.jump(instant)``: move it forward and wait until it is there."""
    _, process = server

    class Clock:
        @staticmethod
        def now() -> datetime:
            return datetime.fromisoformat(api.get("/market/session").json()["now"])

        def jump(self, instant: datetime) -> None:
            assert instant > self.now(), "the test clock only moves forward (tokens and sessions stay valid)"
            process.clock_file.write_text(instant.isoformat())
            process.send_signal(signal.SIGUSR1)
            deadline = time.monotonic() + 15
            while not instant <= self.now() < instant + timedelta(minutes=1):
                assert time.monotonic() < deadline, "the server clock did not move"
                time.sleep(0.1)

    return Clock()


@pytest.fixture
def market_open(clock):
    """The regular session is open on the server's clock (jump to the next open if it is not)."""
    if not calendar.session_state(clock.now()).is_open:
        clock.jump(calendar.session_state(clock.now()).next_open + timedelta(minutes=1))


@pytest.fixture(scope="module")
def api(server_url):
    """An API client of the admin (staff: it may inject paper quotes)."""
    server = server_url
    token = httpx.post(f"{server}/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}).json()["access"]
    with httpx.Client(base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def browser_page(server_url):
    server = server_url
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.goto(f"{server}/accounts/login/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        yield page
        browser.close()


# Installed before an action: records every toast the page shows (they dismiss themselves after
# 8 s) and every live event it receives, so a test can wait for the last event of an order and
# then count the toasts it raised.
RECORDER = """() => {
  window.__toasts = [];
  window.__events = [];
  new MutationObserver((changes) => changes.forEach((change) => change.addedNodes.forEach((node) => {
    if (node.classList && node.classList.contains("toast")) window.__toasts.push(node.innerText);
  }))).observe(document.getElementById("toasts"), { childList: true });
  document.addEventListener("alphaloop:event", (e) => window.__events.push([e.detail.channel, e.detail.event, e.detail.data.id ?? (e.detail.data.order || {}).id ?? null]));
}"""


@pytest.fixture
def page(server_url, browser_page, market_open):
    """The Orders page in an open session, freshly loaded and live, with the toast/event recorder installed."""
    browser_page.goto(f"{server_url}/orders/")
    browser_page.wait_for_selector("#live-status.ok", timeout=15000)
    browser_page.wait_for_selector("#history p, #history table")
    browser_page.evaluate(RECORDER)
    return browser_page


def quote(api, symbol: str) -> Decimal:
    return Decimal(api.get(f"/market/quotes/{symbol}").json()["price"])


def latest_order(api) -> dict:
    return api.get("/orders/history", params={"limit": 1}).json()["results"][0]


def wait_for_event(page, event: str, order_id: int) -> None:
    """Wait until the page has received ``event`` (a status or a notification type) of the order."""
    page.wait_for_function("([event, id]) => window.__events.some((e) => e[1] === event && e[2] === id)",
                           arg=[event, order_id], timeout=15000)


def toasts(page) -> list[str]:
    return page.evaluate("window.__toasts")


def test_the_navbar_and_the_ticket_show_the_session_and_turn_open_at_0930_without_a_reload(server_url, browser_page, clock):
    page = browser_page
    opening = calendar.session_state(clock.now()).next_open
    clock.jump(opening - timedelta(seconds=40))  # time to load the page and read it before the open, on a busy machine
    page.goto(f"{server_url}/orders/")
    badge, note = page.locator("#market-session"), page.locator("#ticket-session")

    expect(badge).to_have_text("NYSE Pre-market · opens 09:30 ET (in 1 min)")
    expect(note).to_contain_text("Orders are refused until the regular session opens at 09:30 ET")
    page.click("#check")
    expect(page.locator("#ticket-result .notice.bad")).to_contain_text("Refused by outside_trading_hours")

    closes = calendar.regular_hours(opening.date())[1]
    half_day = " (half day)" if closes.hour < 16 else ""
    expect(badge).to_have_text(f"NYSE Open · closes {closes:%H:%M} ET{half_day}", timeout=60000)
    expect(note).to_contain_text(f"Orders are accepted until the close at {closes:%H:%M} ET")
    page.goto(f"{server_url}/alerts/")  # every page carries the badge
    expect(page.locator("#market-session")).to_have_text(f"NYSE Open · closes {closes:%H:%M} ET{half_day}")


def test_executing_a_plan_reports_the_order_it_placed(api, page):
    entry = (quote(api, "AAPL") * Decimal("1.01")).quantize(Decimal("0.01"))  # a marketable limit: it fills at once
    page.fill("#plan-form input[name=symbol]", "aapl")
    page.fill("#plan-form input[name=entry_price]", str(entry))
    page.fill("#plan-form input[name=quantity]", "3")
    page.click("#plan-form button[type=submit]")
    expect(page.locator("#plan-result .notice.ok")).to_contain_text("saved")
    plan_id = api.get("/plans/").json()["results"][0]["id"]

    row = page.locator("#plans-table tbody tr").first  # newest first
    expect(row.locator("td").first).to_have_text(str(plan_id))
    row.get_by_role("button", name="Execute").click()

    result = page.locator("#plan-result .notice.ok")
    expect(result).to_contain_text(" filled: Bought 3 AAPL @ ")
    order = latest_order(api)
    assert (order["plan"], order["status"]) == (plan_id, "FILLED")
    expect(result).to_have_text(f"Order #{order['id']} filled: Bought 3 AAPL @ {_price(order['avg_fill_price'])}")
    assert "undefined" not in result.inner_text()


def test_the_approvals_plan_column_names_the_plan(api, page):
    price = quote(api, "MSFT")
    plan = api.post("/plans/", json={"symbol": "MSFT", "direction": "LONG", "entry_price": str(price), "quantity": "2"}).json()
    api.post("/alerts/create", json={"symbol": "MSFT", "condition_type": "price_above", "threshold": str(price),
                                     "action": "request_approval", "linked_plan_id": plan["id"]}).raise_for_status()
    api.post("/market/quotes", json={"symbol": "MSFT", "price": str(price + 1)}).raise_for_status()  # fires the alert

    row = page.locator("#approvals-table tbody tr").first
    expect(row).to_contain_text(f"#{plan['id']} LONG 2 MSFT @ {_price(plan['entry_price'])}")
    assert "[object Object]" not in page.inner_text("#approvals-table")


def test_cancel_asks_for_confirmation_before_it_cancels(api, page):
    limit = (quote(api, "AAPL") * Decimal("0.95")).quantize(Decimal("0.01"))  # rests below the market
    order = api.post("/orders/submit", json={"symbol": "AAPL", "direction": "BUY", "quantity": "4", "order_type": "LIMIT",
                                             "limit_price": str(limit)}).json()
    row = page.locator("#open-orders tbody tr", has_text=_price(limit))
    expect(row).to_be_visible()

    row.get_by_role("button", name="Cancel").click()
    expect(row).to_contain_text(f"Cancel #{order['id']}?")
    row.get_by_role("button", name="Keep").click()
    assert api.get(f"/orders/{order['id']}/status").json()["status"] == "ACCEPTED"

    row.get_by_role("button", name="Cancel").click()
    row.get_by_role("button", name="Yes, cancel").click()
    wait_for_event(page, "CANCELLED", order["id"])
    assert api.get(f"/orders/{order['id']}/status").json()["status"] == "CANCELLED"
    assert toasts(page) == [f"Order #{order['id']} cancelled\nBuy 4 AAPL limit {_price(limit)}"]
    expect(page.locator("#open-orders")).to_contain_text("No open orders.")


def test_a_market_order_gives_exactly_one_toast_with_readable_numbers_clear_of_the_positions(api, page):
    page.fill("#ticket input[name=symbol]", "MSFT")
    page.fill("#ticket input[name=quantity]", "5")
    page.click("#ticket button[type=submit]")

    expect(page.locator("#ticket-result .notice.ok")).to_contain_text("filled")
    order = latest_order(api)
    wait_for_event(page, "order_filled", order["id"])  # the last event the order sends
    shown = toasts(page)
    assert shown == [f"Order #{order['id']} filled\nBought 5 MSFT @ {_price(order['avg_fill_price'])}"]
    assert "5.000000" not in shown[0]
    toast_box = page.locator(".toast").first.bounding_box()
    positions_box = page.locator("#positions").bounding_box()
    assert not _overlap(toast_box, positions_box), (toast_box, positions_box)
    expect(page.locator("#positions")).to_contain_text("MSFT")


def test_a_refused_order_gives_one_toast_with_the_reason(api, page):
    page.fill("#ticket input[name=symbol]", "AAPL")
    page.fill("#ticket input[name=quantity]", "100000")
    page.click("#ticket button[type=submit]")

    expect(page.locator("#ticket-result .notice.bad")).to_contain_text("Refused by max_order_pct")
    order = latest_order(api)
    assert order["status"] == "REJECTED"
    wait_for_event(page, "order_rejected", order["id"])
    shown = toasts(page)
    assert len(shown) == 1 and shown[0].startswith(f"Order #{order['id']} refused\nBuy 100,000 AAPL: ")
    assert "(max_order_pct)" in shown[0] and order["reject_reason"] in shown[0]


def test_after_the_half_day_closes_and_on_the_next_day_the_navbar_says_when_it_opens(server_url, browser_page, clock,
                                                                                     half_day):
    page = browser_page
    closes = calendar.regular_hours(half_day)[1]
    if clock.now() < closes:
        clock.jump(closes + timedelta(minutes=10))
        page.goto(f"{server_url}/")
        reopens = calendar.session_state(closes).next_open
        expect(page.locator("#market-session")).to_have_text(f"NYSE After-hours · opens {reopens:%a} 09:30 ET")
        assert closes.hour == 13  # the half day closed at 13:00 ET

    next_day = calendar.session_state(clock.now()).at.replace(hour=12, minute=0) + timedelta(days=1)
    clock.jump(next_day)
    page.goto(f"{server_url}/")
    state = calendar.session_state(next_day)
    expected = f"NYSE Closed{f' ({state.holiday})' if state.holiday else ''} · opens {state.next_open:%a} 09:30 ET"
    if state.is_open:
        expected = f"NYSE Open · closes {state.closes_at:%H:%M} ET{' (half day)' if state.early_close else ''}"
    expect(page.locator("#market-session")).to_have_text(expected)


def test_an_approval_refused_outside_trading_hours_stays_waiting_with_the_reason(server_url, browser_page, api, clock):
    page = browser_page
    now = calendar.session_state(clock.now())
    if now.is_open:
        clock.jump(now.closes_at + timedelta(minutes=5))
    price = quote(api, "AAPL")
    plan = api.post("/plans/", json={"symbol": "AAPL", "direction": "LONG", "entry_price": str(price), "quantity": "1"}).json()
    api.post("/alerts/create", json={"symbol": "AAPL", "condition_type": "price_below", "threshold": str(price),
                                     "action": "request_approval", "linked_plan_id": plan["id"]}).raise_for_status()
    api.post("/market/quotes", json={"symbol": "AAPL", "price": str(price - 1)}).raise_for_status()
    page.goto(f"{server_url}/orders/")
    row = page.locator("#approvals-table tbody tr", has_text=f"#{plan['id']} LONG 1 AAPL")

    row.get_by_role("button", name="Approve").click()

    result = page.locator("#approvals-result .notice.warn")
    expect(result).to_contain_text("not executed yet: The NYSE regular session is closed")
    expect(result).to_contain_text("The request stays pending until")
    expect(result).to_contain_text("(outside_trading_hours)")
    expect(row).to_contain_text("Refused")
    expect(row).to_contain_text("(outside_trading_hours)")
    pending = api.get("/approvals/", params={"status": "PENDING"}).json()["results"]
    assert [a["plan"]["id"] for a in pending if a["refusal_code"] == "outside_trading_hours"] == [plan["id"]]


def _price(value) -> str:
    return "${:,.2f}".format(Decimal(str(value)))


def _overlap(a: dict, b: dict) -> bool:
    return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and \
        a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]
