"""The Orders page's "Import fills" panel as a trader uses it (Debian's Chromium, Playwright).

A real ``manage.py serve`` on a temporary SQLite database (admin account, no demo data, no feed). The
tests upload files through the page and read what it shows: the report's sentence, the table of bad
and skipped lines, and the positions the import booked.
"""

from __future__ import annotations

import datetime as dt
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

from marketdata import calendar

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "tests" / "orders" / "samples"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "import-fills-pass-123"
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
    workdir = tmp_path_factory.mktemp("alphaloop-import")
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "alphaloop.settings", "DEBUG": "false",
        "SECRET_KEY": "import-page-secret-key-0123456789-abcdefghijklmnopqrst", "JWT_SIGNING_KEY": "import-page-jwt-key-0123456789-abcdefghijklmnopqrstuvw",
        "ALPHALOOP_VAR_DIR": str(workdir), "ALPHALOOP_ENV_FILE": str(workdir / "none.env"),
        "DATABASE_URL": f"sqlite:///{workdir / 'import.sqlite3'}", "ALPHALOOP_ADMIN_PASSWORD": PASSWORD,
        "MARKET_FEED": "none",
    })
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], env=env, check=True, cwd=ROOT)
    subprocess.run([*manage, "bootstrap", "--no-seed"], env=env, check=True, cwd=ROOT, capture_output=True)
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
def page(server):
    from playwright.sync_api import sync_playwright

    CSP_VIOLATIONS.clear()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
        page.on("console", lambda message: "Content Security Policy" in message.text and CSP_VIOLATIONS.append(message.text))
        page.goto(f"{server}/accounts/login/")
        page.fill("input[name=username]", "admin")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        yield page
        browser.close()


def recent_history(path: Path) -> Path:
    """Two executions on the last two closed sessions (the equity curve is rebuilt from the first one)."""
    last = calendar.last_closed_session()
    first = calendar.previous_session(last)
    path.write_text("executed_at,symbol,side,quantity,price,commission,execution_id\n"
                    f"{first}T10:00:00,AAPL,BUY,10,190.00,1.00,PAGE-1\n"
                    f"{last}T11:30:00,AAPL,SELL,4,195.50,1.00,PAGE-2\n")
    return path


def upload(page, server: str, path: Path, file_format: str, mode: str = "import") -> None:
    page.goto(f"{server}/orders/")
    page.set_input_files("#import-form input[name=file]", str(path))
    page.select_option("#import-form select[name=format]", file_format)
    page.select_option("#import-form select[name=mode]", mode)
    page.click("#import-form button[type=submit]")


def test_uploading_a_history_shows_the_report_and_books_the_position(server, page, tmp_path):
    history = recent_history(tmp_path / "fills.csv")

    upload(page, server, history, "csv")

    result = page.locator("#import-result")
    expect(result.locator(".notice.ok")).to_have_text(
        "Imported 2 execution(s) into PAPER-admin; 0 already in the ledger; 0 row(s) skipped.", timeout=60000)
    expect(result).to_contain_text("2 new order(s); AAPL; executions from ")
    expect(result).to_contain_text("New symbols, no prices yet (fetch_bars or import_bars): AAPL.")
    expect(page.locator("#positions tbody tr", has_text="AAPL")).to_contain_text("6")

    upload(page, server, history, "csv")

    expect(result.locator(".notice.ok")).to_have_text(
        "Imported 0 execution(s) into PAPER-admin; 2 already in the ledger; 0 row(s) skipped.", timeout=60000)
    assert not CSP_VIOLATIONS


def test_a_bad_row_is_shown_with_its_line_and_nothing_is_imported(server, page, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(recent_history(tmp_path / "good.csv").read_text().replace("PAGE-1", "PAGE-9")
                   .replace("195.50", "19x.50"))

    upload(page, server, bad, "csv")

    result = page.locator("#import-result")
    expect(result.locator(".notice.bad")).to_have_text("1 bad row(s): nothing was imported.", timeout=60000)
    row = result.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_have_text("3Bad rowprice '19x.50' is not a plain decimal number")


def test_a_dry_run_of_an_ibkr_statement_lists_the_skipped_lines_and_writes_nothing(server, page):
    upload(page, server, SAMPLES / "ibkr_flex_trades.csv", "ibkr-flex", mode="dry_run")

    result = page.locator("#import-result")
    expect(result.locator(".notice.warn")).to_have_text(
        "Would import 7 execution(s) into PAPER-admin; 0 already in the ledger; 3 row(s) skipped. "
        "Dry run: nothing was written.", timeout=60000)
    rows = result.locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("AAPL  240419C00175000 is an option")
    expect(rows.nth(1)).to_contain_text("LevelOfDetail ORDER: not an execution row")
    expect(rows.nth(2)).to_contain_text("EUR.USD is a forex conversion")
    expect(page.locator("#positions")).not_to_contain_text("MSFT")
