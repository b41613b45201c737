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
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:  # a loaded machine: the server's shutdown is not what these tests check
        process.kill()
        process.wait()
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


# --- the journal: tagging, the tag editor, the weekly report (issue 14.2) ----------------------------


def _closed_entries(api) -> list[dict]:
    rows = api.get("/journal/list", params={"size": 100}).json()["results"]
    return [row for row in rows if row["exit_date"] and row["realized_pnl"] is not None]


def _week_rows(page, host: str) -> list[list[str]]:
    rows = page.locator(f"{host} tbody tr")
    return [[cell.strip() for cell in rows.nth(i).locator("td").all_text_contents()] for i in range(rows.count())]


def _money(value: str) -> str:
    number = Decimal(value)
    return f"{'-' if number < 0 else ''}${abs(number):,.2f}"


def test_an_entry_tagged_on_its_page_shows_in_the_weekly_reports_breakdown(server, api, page):
    entry = _closed_entries(api)[0]
    page.goto(f"{server}/journal/{entry['id']}/")
    expect(page.locator("#emotion option[value=fomo]")).to_have_count(1)  # the vocabulary is offered
    expect(page.locator("#mistakes option")).to_have_count(8)  # the built-in mistakes
    page.select_option("#emotion", "fomo")
    page.select_option("#mistakes", ["chase_high", "no_stop"])
    page.click("#edit button[type=submit]")
    expect(page.locator("#edit-result .notice.ok")).to_have_text("Saved.")

    page.goto(f"{server}/journal/")
    page.fill("#weekly input[name=date]", entry["exit_date"])
    page.click("#weekly button[type=submit]")
    report = api.get("/journal/weekly-report", params={"date": entry["exit_date"]}).json()
    expect(page.locator("#weekly-emotions tbody tr")).to_have_count(len(report["emotions"]))
    emotions = {row[0]: row for row in _week_rows(page, "#weekly-emotions")}
    fomo = next(e for e in report["emotions"] if e["emotion"] == "fomo")
    assert emotions["fomo"] == ["fomo", str(fomo["trades"]), f"{Decimal(fomo['win_rate']) * 100:.0f}%", _money(fomo["pnl"])]
    mistakes = {row[0]: row for row in _week_rows(page, "#weekly-mistakes")}
    for tag in ("chase_high", "no_stop"):
        expected = next(m for m in report["mistakes"] if m["tag"] == tag)
        assert mistakes[tag] == [tag, str(expected["count"]), _money(expected["pnl"])]
    assert Decimal(fomo["pnl"]) == Decimal(entry["realized_pnl"]) or fomo["trades"] > 1


def test_a_mistake_tag_added_renamed_and_retired_on_the_journal_page(server, api, page):
    first, second = _closed_entries(api)[1:3]
    page.goto(f"{server}/journal/")
    page.fill("#tag-add input[name=name]", "fat_finger")
    page.fill("#tag-add input[name=description]", "Typed the wrong size")
    page.click("#tag-add button[type=submit]")
    expect(page.locator("#tag-result .notice.ok")).to_have_text("Added fat_finger.")
    row = page.locator("#tags tbody tr", has=page.locator("td", has_text="fat_finger"))
    expect(row).to_contain_text("yours")

    row.locator("input[name=rename]").fill("wrong_size")
    row.locator("button.rename").click()
    expect(page.locator("#tag-result .notice.ok")).to_contain_text("Renamed fat_finger to wrong_size")
    renamed = page.locator("#tags tbody tr", has=page.locator("td", has_text="wrong_size"))
    expect(renamed).to_contain_text("active")
    expect(page.locator("#tags tbody tr", has=page.locator("td", has_text="chase_high"))).to_contain_text("built-in")

    page.goto(f"{server}/journal/{first['id']}/")
    page.select_option("#mistakes", ["wrong_size"])
    page.click("#edit button[type=submit]")
    expect(page.locator("#edit-result .notice.ok")).to_have_text("Saved.")

    page.goto(f"{server}/journal/")
    page.locator("#tags tbody tr", has=page.locator("td", has_text="wrong_size")).locator("button.retire").click()
    expect(page.locator("#tags tbody tr", has=page.locator("td", has_text="wrong_size"))).to_contain_text("retired")
    expect(page.locator("#journal")).to_contain_text("wrong_size")  # the entry keeps its tag

    page.goto(f"{server}/journal/{second['id']}/")
    expect(page.locator("#mistakes option")).to_have_count(8)
    assert page.locator("#mistakes option[value=wrong_size]").count() == 0  # not offered any more
    page.goto(f"{server}/journal/{first['id']}/")
    expect(page.locator("#mistakes option[value=wrong_size]")).to_have_text("wrong_size (retired)")
    assert page.locator("#mistakes option[value=wrong_size]").evaluate("o => o.selected")


# --- the journal's numbers (issue 14.10) -------------------------------------------------------------


def test_the_journal_shows_prices_to_the_cent_whole_quantities_and_the_context_as_fields(server, api, page):
    entry = next(e for e in _closed_entries(api) if e["context"] and e["context"]["indicators"]["entry"]["as_of"])
    assert entry["entry_price"].endswith("0000") and entry["quantity"].endswith(".000000")  # as the API stores them
    page.goto(f"{server}/journal/?symbol={entry['symbol']}")
    page.fill("#filters input[name=symbol]", entry["symbol"])
    page.click("#filters button[type=submit]")
    row = page.locator("#journal tbody tr", has=page.locator(f"a[href='/journal/{entry['id']}/']"))
    expect(row).to_be_visible()  # the filtered list has loaded
    cells = [c.strip() for c in row.locator("td").all_text_contents()]
    quantity = f"{Decimal(entry['quantity']).normalize():,f}"
    assert cells[3] == quantity and "." not in quantity
    assert cells[4] == f"{entry['entry_date']} @ ${Decimal(entry['entry_price']):,.2f}"
    assert cells[5] == f"{entry['exit_date']} @ ${Decimal(entry['exit_price']):,.2f}"

    page.goto(f"{server}/journal/{entry['id']}/")
    expect(page.locator("#entry")).to_have_text(f"{entry['entry_date']} @ ${Decimal(entry['entry_price']):,.2f}")
    expect(page.locator("#quantity")).to_have_text(quantity)
    expect(page.locator("#realized-pnl")).to_have_text(_money(entry["realized_pnl"]))
    context = page.locator("#context")
    at_entry = entry["context"]["indicators"]["entry"]
    expect(context).to_contain_text(f"Indicators at entryas of {at_entry['as_of']}")
    expect(context.locator("tr", has_text="RSI 14").first).to_have_text(f"RSI 14{at_entry['rsi_14']:.1f}")
    expect(context.locator("tr", has_text="Close vs 50-day average").first).to_have_text(
        f"Close vs 50-day average{at_entry['sma_50_distance'] * 100:+.2f}%")
    assert "{" not in context.text_content() and "'" not in context.text_content()  # no Python dict
