"""Walk-forward, robustness, live-versus-backtest and the tearsheet on the Backtests page, as a person sees them.

A real ``manage.py serve`` on a temporary SQLite database seeded with the demo data (as in
``test_pages.py``), driven by Debian's Chromium through Playwright. The tests read the texts, tables
and legends a trader reads, check them against the API answer the page received, and read the charts
off their pixels (each series in its own colour, from backtests.js COLORS).
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

# backtests.js COLORS
EQUITY, BENCHMARK, SELL, DRAWDOWN, LIVE = (76, 154, 255), (209, 212, 220), (255, 152, 0), (239, 83, 80), (255, 213, 79)
CSP_VIOLATIONS: list[str] = []


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
def page(server):
    from playwright.sync_api import sync_playwright

    CSP_VIOLATIONS.clear()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        context = browser.new_context(viewport={"width": 1366, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.on("console", lambda message: "Content Security Policy" in message.text and CSP_VIOLATIONS.append(message.text))
        page.goto(f"{server}/accounts/login/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        yield page
        browser.close()


def _pixels(locator) -> list[tuple[int, int, int]]:
    image = Image.open(io.BytesIO(locator.screenshot())).convert("RGB")
    return list(image.get_flattened_data())


def _count(pixels, color, tolerance=24) -> int:
    return sum(1 for p in pixels if all(abs(a - b) <= tolerance for a, b in zip(p, color)))


def _rows(page, selector) -> list[list[str]]:
    return [[cell.strip() for cell in row.locator("td").all_text_contents()] for row in page.locator(f"{selector} tbody tr").all()]


@pytest.fixture(scope="module")
def swept(server, page):
    """A 3 x 3 sweep of sma_cross on AAPL run from the page; the page shows its first run."""
    page.goto(f"{server}/backtests/")
    page.wait_for_selector("#strategy option[value=sma_cross]", state="attached")
    page.fill("#run-form input[name=symbols]", "AAPL")
    page.fill("#run-grid", '{"fast": [5, 10, 20], "slow": [30, 50, 100]}')
    with page.expect_response(lambda r: r.url.endswith("/api/v1/backtest/sweep")) as sweep:
        page.click("#run-form button[type=submit]")
    # Nine backtests run in the server: generous on a loaded machine, and a refusal is read, not timed out.
    outcome = page.wait_for_selector("#run-status .notice.ok, #run-status .notice.bad", timeout=300000)
    assert "ok" in outcome.get_attribute("class"), outcome.text_content()
    return sweep.value.json()


def test_the_robustness_of_a_run_reads_as_monte_carlo_percentiles_regimes_and_the_sweep_heatmap(page, swept):
    with page.expect_response(lambda r: "/robustness?" in r.url, timeout=60000) as answer:
        page.click("#mc-form button[type=submit]")  # the defaults again: 1,000 paths, seed 1, ruin at 50 %
    page.wait_for_selector("#mc-summary table")
    report = answer.value.json()
    mc = report["monte_carlo"]
    caption = page.text_content("#mc-caption")
    assert f"over the run's {mc['n_trades']} trade returns" in caption and "1000 paths per method, seed 1" in caption
    rows = _rows(page, "#mc-summary")
    assert [row[0] for row in rows] == ["Resampled: final equity", "Resampled: max drawdown",
                                        "Reshuffled: final equity", "Reshuffled: max drawdown"]
    assert rows[0][1:6] == ["${:,.2f}".format(mc["bootstrap"]["final_equity"][p]) for p in ("p5", "p25", "p50", "p75", "p95")]
    assert rows[0][6] == f"{mc['bootstrap']['probability_of_ruin'] * 100:.2f}%"
    assert rows[3][1] == f"{mc['shuffle']['max_drawdown']['p5'] * 100:.2f}%"
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    fan, histogram = _pixels(page.locator("#mc-fan")), _pixels(page.locator("#mc-dd"))
    assert _count(fan, EQUITY) > 100 and _count(fan, LIVE) > 50  # the median and the run's own order
    assert _count(histogram, DRAWDOWN) + _count(histogram, SELL) > 300  # the bars of paths by max drawdown

    regimes = _rows(page, "#regimes")
    assert [row[0] for row in regimes] == [r["label"] for r in report["regimes"]["regimes"]]
    assert [int(row[1]) for row in regimes] == [r["days"] for r in report["regimes"]["regimes"]]

    cells = page.locator("#heatmap td.cell")
    assert cells.count() == 9
    values = [float(v) for v in cells.all_text_contents() if v != "–"]
    best = page.locator("#heatmap td.cell.best")
    assert best.count() == 1 and float(best.text_content()) == max(values)
    assert re.match(r"Best sharpe -?\d+\.\d\d at fast = \d+, slow = \d+; its \d neighbours average", page.text_content("#sensitivity-verdict"))

    page.fill("#mc-form input[name=seed]", "2")
    page.fill("#mc-form input[name=paths]", "500")
    page.click("#mc-form button[type=submit]")
    expect(page.locator("#mc-caption")).to_contain_text("500 paths per method, seed 2")


def test_a_panel_whose_data_fails_says_so_and_retry_loads_it(page, swept):
    robustness = re.compile(r"/api/v1/backtest/results/\d+/robustness\?")
    page.route(robustness, lambda route: route.fulfill(status=503, content_type="application/json", body=(
        '{"detail": "The database is unavailable; try again shortly.", "code": "database_unavailable"}')))
    page.click("#mc-form button[type=submit]")
    failure = page.locator("#robustness .notice.bad")
    expect(failure).to_have_text("Could not load the robustness report: The database is unavailable; try again shortly. "
                                 "(database_unavailable) Retry")
    page.unroute(robustness)
    page.click("#robustness button.retry")
    page.wait_for_selector("#mc-summary table")
    assert page.locator("#robustness .notice.bad").count() == 0


def test_the_tearsheet_downloads_from_the_run_and_opens_as_one_page(page, swept, tmp_path):
    with page.expect_download(timeout=120000) as download:
        page.click("#tearsheet-html")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert re.fullmatch(r"alphaloop-run-\d+-sma_cross-tearsheet\.html", path.name)
    html = path.read_text()
    for heading in ("Performance", "Monthly returns", "Rolling Sharpe", "Trades", "Robustness: Monte Carlo",
                    "Robustness: market regimes", "Robustness: parameter sensitivity (sweep)"):
        assert f"<h2>{heading}</h2>" in html
    assert html.count('src="data:image/png;base64,') == 7
    viewer = page.context.new_page()  # the file on its own, offline: what the trader keeps
    viewer.goto(path.as_uri())
    assert viewer.locator("img").count() == 7 and all(
        viewer.evaluate("(img) => img.naturalWidth", img.element_handle()) > 0 for img in viewer.locator("img").all())
    assert "Monthly returns" in viewer.text_content("body")
    viewer.close()


def test_a_walk_forward_from_the_page_shows_its_windows_and_the_stitched_curve(page, swept):
    page.fill("#wf-form input[name=symbols]", "AAPL")
    page.click("#wf-form button[type=submit]")
    status = page.wait_for_selector("#wf-status .notice.ok", timeout=180000).text_content()
    wf_id = int(re.fullmatch(r"Walk-forward #(\d+) finished: \d+ windows x 9 combinations\.", status).group(1))
    wf = page.evaluate("async (id) => (await AL.get(`/api/v1/backtest/walk-forward/${id}`)).data", wf_id)
    assert status == f"Walk-forward #{wf_id} finished: {wf['windows_total']} windows x 9 combinations."
    summary = page.text_content("#wf-summary")
    assert re.fullmatch(r"Walk-forward efficiency (-?\d+\.\d\d|undefined \(the mean in-sample CAGR is not positive\)): "
                        r"out-of-sample CAGR -?\d+\.\d\d% against a mean in-sample CAGR of -?\d+\.\d\d%\. "
                        r"\d+ of \d+ test windows profitable\. Costs: commission 0\.1% of notional · slippage 0 bps · "
                        r"spread 0% \(half against each fill\) · no volume cap\.", summary), summary
    windows = _rows(page, "#wf-windows")
    assert len(windows) == wf["windows_total"] >= 5
    for row, window in zip(windows, wf["windows"]):
        assert row[1] == f"{window['train_start']} → {window['train_end']}" and row[2] == f"{window['test_start']} → {window['test_end']}"
        chosen = window["result"]["params"]
        assert row[3] == (f"fast={chosen['fast']} slow={chosen['slow']}" if chosen else "not traded")
    legend = page.text_content("#wf-legend")
    assert re.search(r"Out of sample \$[\d,]+\.\d\d \([+-]\d+\.\d\d%\)", legend) and f"▼ {wf['windows_total']} test windows" in legend
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    chart = _pixels(page.locator("#wf-chart"))
    assert _count(chart, EQUITY) > 100 and _count(chart, BENCHMARK) > 100 and _count(chart, SELL) > 20  # curve, SPY, W markers


def test_live_versus_backtest_compares_the_run_with_the_account(page, swept):
    page.click("#compare-live")
    assert re.match(r"Replaying run #\d+: its strategy", page.text_content("#lc-run-note"))
    with page.expect_response(lambda r: "/api/v1/backtest/live-compare?" in r.url, timeout=120000) as answer:
        page.click("#lc-form button[type=submit]")
    report = answer.value.json()
    assert answer.value.status == 200, report
    totals = report["totals"]
    expect(page.locator("#lc-status .notice.ok")).to_contain_text(
        f"{totals['matched']} matched, {totals['missed']} missed, {totals['extra']} extra.")
    cards = dict(zip(page.locator("#lc-totals .stat span").all_text_contents(),
                     page.locator("#lc-totals .stat strong").all_text_contents()))
    money = lambda v: ("-" if v.startswith("-") else "") + f"${abs(float(v)):,.2f}"
    assert cards["Live P&L"] == money(totals["live_pnl"]) and cards["Backtest P&L"] == money(totals["backtest_pnl"])
    assert cards["Difference"] == money(totals["pnl_difference"])
    assert (cards["Missed trades"], cards["Extra trades"]) == (str(totals["missed"]), str(totals["extra"]))
    kinds = [row[0] for row in _rows(page, "#lc-rows")]
    assert kinds == [row["kind"] for row in report["rows"]] and len(kinds) == totals["matched"] + totals["missed"] + totals["extra"]
    page.mouse.move(0, 0)
    page.wait_for_timeout(300)
    chart = _pixels(page.locator("#lc-chart"))
    assert _count(chart, EQUITY) > 100 and _count(chart, LIVE) > 100  # the backtest's and your P&L


def test_no_backtest_panel_broke_the_content_security_policy(page):
    """Runs last: every panel above was drawn under the strict CSP."""
    assert CSP_VIOLATIONS == []
