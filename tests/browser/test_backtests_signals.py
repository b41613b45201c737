"""The Backtests and Signals pages as a person sees them (Debian's Chromium driven by Playwright).

The backtest chart is read off its pixels: the strategy, SPY and the buy/sell markers on the dollar
pane, the drawdown alone on a percent pane below it (none of its red on the dollar pane, where its
label used to cover the lowest dollar label), the date labels inside the box. The legends above
each pane are read as text. The Signals page is used as staff (the shared scan, with its feedback)
and as a plain user (no shared button; a private what-if). A real ``manage.py serve`` runs on a
temporary SQLite database seeded with the demo data, as in ``test_pages.py``.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.test_pages import CHROMIUM, PASSWORD, ROOT, _free_port

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make test installs it)"),
    pytest.mark.skipif(bool(os.environ.get("ALPHALOOP_SERVICES_RUN")), reason="runs once, on the embedded default"),
]

VIEWER = "viewer"  # a plain (non-staff) user
# backtests.js COLORS
BENCHMARK, BUY, SELL, DRAWDOWN, AXIS_TEXT = (209, 212, 220), (38, 166, 154), (255, 152, 0), (239, 83, 80), (139, 152, 165)
CREATE_VIEWER = f"""
from django.contrib.auth import get_user_model
get_user_model().objects.create_user({VIEWER!r}, password={PASSWORD!r})  # with its paper account
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("alphaloop")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "alphaloop.settings", "DEBUG": "false",
        "SECRET_KEY": "browser-test-secret-key-0123456789-abcdefghijklmnopqrst", "JWT_SIGNING_KEY": "browser-test-jwt-key-0123456789-abcdefghijklmnopqrstuvw",
        "ALPHALOOP_VAR_DIR": str(workdir), "ALPHALOOP_ENV_FILE": str(workdir / "none.env"),
        "DATABASE_URL": f"sqlite:///{workdir / 'browser.sqlite3'}", "ALPHALOOP_ADMIN_PASSWORD": PASSWORD,
        "MARKET_FEED": "none",
    })
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "bootstrap"], env=env, check=True, cwd=ROOT, capture_output=True)
    subprocess.run([*manage, "shell", "-c", CREATE_VIEWER], env=env, check=True, cwd=ROOT, capture_output=True)
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


def _logged_in(browser, server, username):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")
    return page


@pytest.fixture(scope="module")
def staff_page(browser, server):
    page = _logged_in(browser, server, "admin")
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def viewer_page(browser, server):
    page = _logged_in(browser, server, VIEWER)
    yield page
    page.context.close()


def _pixels(locator, box=None) -> list[tuple[int, int, int]]:
    """The RGB pixels of an element as drawn (optionally a (left, top, right, bottom) crop of it)."""
    image = Image.open(io.BytesIO(locator.screenshot())).convert("RGB")
    if box is not None:
        width, height = image.size
        image = image.crop(tuple(v if v >= 0 else size + v for v, size in zip(box, (width, height, width, height))))
    return list(image.get_flattened_data())


def _count(pixels, color, tolerance=24) -> int:
    return sum(1 for p in pixels if all(abs(a - b) <= tolerance for a, b in zip(p, color)))


def test_a_backtest_chart_shows_spy_the_trades_and_the_drawdown_on_its_own_percent_pane(server, staff_page):
    page = staff_page
    page.goto(f"{server}/backtests/")
    page.wait_for_selector("#strategy option[value=sma_cross]", state="attached")
    page.fill("#run-form input[name=symbols]", "AAPL")
    page.click("#run-form button[type=submit]")
    page.wait_for_selector("#run-status .notice.ok", timeout=30000)
    page.wait_for_selector("#bt-chart canvas")
    page.wait_for_selector("#bt-drawdown canvas")
    page.mouse.move(0, 0)  # no crosshair over the charts
    page.wait_for_timeout(300)  # let the canvases finish their frame

    legend = page.text_content("#bt-legend")
    assert re.search(r"Strategy \$[\d,]+\.\d\d \([+-]\d+\.\d\d%\)", legend), legend
    assert re.search(r"SPY \$[\d,]+\.\d\d \([+-]\d+\.\d\d%\)", legend), legend
    buys, sells = (int(n) for n in re.search(r"▲ (\d+) buy markers.*▼ (\d+) sell markers", legend).groups())
    assert buys > 0 and sells > 0
    assert re.fullmatch(r"■ Drawdown -?\d+\.\d\d% \(max -\d+\.\d\d%\)\s*", page.text_content("#bt-dd-legend"))

    equity, drawdown = page.locator("#bt-chart"), page.locator("#bt-drawdown")
    equity_box, drawdown_box = equity.bounding_box(), drawdown.bounding_box()
    assert drawdown_box["y"] >= equity_box["y"] + equity_box["height"]  # a pane of its own, below
    dollar_pane = _pixels(equity)
    assert _count(dollar_pane, BENCHMARK) > 100  # the SPY line
    assert _count(dollar_pane, BUY) > 20 and _count(dollar_pane, SELL) > 20  # the buy and sell markers
    assert _count(dollar_pane, DRAWDOWN) == 0  # nothing of the drawdown on the dollar axis
    assert _count(_pixels(drawdown), DRAWDOWN) > 100
    date_axis = _pixels(drawdown, (0, -26, -84, -1))  # the bottom strip under the drawdown: the dates
    assert _count(date_axis, AXIS_TEXT, tolerance=40) > 20
    assert page.locator(".notice.bad").count() == 0


def test_a_run_with_a_spread_and_a_volume_cap_shows_its_costs_and_the_orders_the_cap_cut(server, staff_page):
    page = staff_page
    page.goto(f"{server}/backtests/")
    page.wait_for_selector("#strategy option[value=sma_cross]", state="attached")
    page.fill("#run-form input[name=symbols]", "AAPL")
    page.click("#run-form button[type=submit]")  # first without: the form's default costs
    expect(page.locator("#bt-costs")).to_have_text(
        "Costs: commission 0.1% of notional · slippage 0 bps · spread 0% (half against each fill) · no volume cap",
        timeout=30000)
    expect(page.locator("#bt-capped")).to_be_empty()
    page.fill("#run-form input[name=spread]", "0.0005")
    page.fill("#run-form input[name=max_volume_fraction]", "0.000001")
    page.click("#run-form button[type=submit]")

    costs = "commission 0.1% of notional · slippage 0 bps · spread 0.05% (half against each fill) · " \
            "fills capped at 0.0001% of a bar's volume"
    expect(page.locator("#bt-costs")).to_have_text(f"Costs: {costs}", timeout=30000)
    expect(page.locator("#bt-capped h3")).to_contain_text("Orders cut by the volume cap (")
    reason = page.locator("#bt-capped tbody tr").first.locator("td").last.text_content()
    assert re.fullmatch(r"volume cap: (filled [\d,]+ of [\d,]+ shares|none of [\d,]+ shares filled) "
                        r"\(0\.0001% of the bar's volume of [\d,]+\); (the other [\d,]+ )?cancelled", reason), reason
    # Side by side, the runs say what each paid.
    run_id = re.match(r"#(\d+) ", page.text_content("#result-title")).group(1)
    expect(page.locator("#runs tbody tr").first.locator("td").nth(1)).to_have_text(f"#{run_id}")
    boxes = page.locator("#runs tbody input[type=checkbox]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    costs_row = page.locator("#compare tbody tr").first.locator("td")
    expect(costs_row).to_have_text(["Costs", costs, "commission 0.1% of notional · slippage 0 bps · spread 0% "
                                                    "(half against each fill) · no volume cap"])


def test_staff_run_the_shared_scan_from_the_page_and_see_it_done(server, staff_page):
    page = staff_page
    page.goto(f"{server}/signals/")
    page.wait_for_selector("#signals table")
    page.click("#scan")
    done = page.locator("#scan-status .notice.ok")
    expect(done).to_have_text(re.compile(r"Scan of \d{4}-\d\d-\d\d done: \d+ signals stored \(\d+ long, \d+ short, \d+ flat\)\."),
                              timeout=60000)
    expect(page.locator("#scan")).to_have_text("Run scan now")
    expect(page.locator("#as-of")).to_have_text(re.compile(r"scan of \d{4}-\d\d-\d\d"))


def test_a_plain_user_gets_a_private_what_if_and_no_shared_scan_button(server, viewer_page):
    page = viewer_page
    page.goto(f"{server}/signals/")
    page.wait_for_selector("#signals table")
    shared_before = page.text_content("#signals")
    assert page.locator("#scan").count() == 0
    page.wait_for_selector("#weights [data-weight=mom_12_1]")
    page.fill("#weights [data-weight=mom_12_1]", "-5")
    page.fill("#weights [data-weight=rsi_14]", "5")
    page.click("#what-if button[type=submit]")

    expect(page.locator("#what-if-status .notice.ok")).to_have_text(
        re.compile(r"What-if for \d{4}-\d\d-\d\d: \d+ signals \(\d+ long, \d+ short, \d+ flat\); not stored, nobody notified\."),
        timeout=60000)
    assert page.locator("#what-if-result tbody tr").count() > 1
    page.reload()
    page.wait_for_selector("#signals table")
    assert page.text_content("#signals") == shared_before
