"""The tearsheet a trader keeps: one self-contained HTML page per run, and its PNG plots."""

from __future__ import annotations

import io
import re
import zipfile
from io import StringIO

import pytest
from django.core.management import call_command

from backtest import tearsheet
from backtest.models import BacktestRun

PNG = b"\x89PNG\r\n\x1a\n"


def test_monthly_returns_chain_month_ends_and_compound_the_year():
    curve = [{"date": d, "equity": e} for d, e in [("2024-11-28", 100.0), ("2024-11-29", 110.0),
                                                   ("2024-12-02", 99.0), ("2024-12-31", 121.0), ("2025-01-02", 133.1)]]

    rows = tearsheet.monthly_returns(curve)

    assert [row["year"] for row in rows] == [2024, 2025]
    assert rows[0]["months"][10] == pytest.approx(0.10) and rows[0]["months"][11] == pytest.approx(0.10)
    assert rows[0]["months"][:10] == [None] * 10 and rows[0]["year_return"] == pytest.approx(0.21)
    assert rows[1]["months"][0] == pytest.approx(0.10) and rows[1]["year_return"] == pytest.approx(0.10)


def test_the_rolling_sharpe_is_the_sharpe_of_the_last_126_returns():
    import numpy as np

    rng = np.random.default_rng(2)
    equity = 100 * np.cumprod(1 + rng.normal(0.001, 0.01, 200))
    curve = [{"date": d.date().isoformat(), "equity": e} for d, e in zip(__import__("pandas").bdate_range("2024-01-01", periods=200), equity)]

    rolling = tearsheet.rolling_sharpe(curve)

    last = np.diff(equity[-127:]) / equity[-127:-1]
    assert rolling.iloc[-1] == pytest.approx(last.mean() / last.std(ddof=1) * 252 ** 0.5)
    assert rolling.iloc[:126].isna().all() and not np.isnan(rolling.iloc[126])


def _download(client, url):
    response = client.get(url)
    return response, b"".join(response.streaming_content) if response.streaming else response.content


def test_a_finished_runs_tearsheet_downloads_as_one_page_with_its_plots(client, user, other_user, committing_api,
                                                                         spy_aapl_msft_bars):
    body = {"strategy_id": "sma_cross", "start_date": "2024-01-02", "end_date": "2025-12-31", "initial_capital": "10000",
            "params": {"fast": 10, "slow": 30}, "symbols": ["AAPL"], "commission": "0.001", "spread": "0.0005",
            "max_volume_fraction": "0.1"}
    run = BacktestRun.objects.get(pk=committing_api.post("/api/v1/backtest/run", body, format="json").data["id"])
    client.force_login(user)

    response, content = _download(client, f"/backtests/{run.pk}/tearsheet.html")

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="alphaloop-run-{run.pk}-sma_cross-tearsheet.html"'
    page = content.decode()
    for heading in ("Performance", "Monthly returns", "Rolling Sharpe", "Trades", "Robustness: Monte Carlo",
                    "Robustness: market regimes"):
        assert f"<h2>{heading}</h2>" in page
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)" alt="([^"]+)"', page)
    assert len(images) == 6  # equity, drawdown, rolling Sharpe, trades, Monte Carlo, regimes
    assert f"{run.metrics['n_trades']} closed trades" in page
    assert f"${run.metrics['final_equity']:,.2f}" in page
    assert "1000 paths per method, seed 1" in page
    costs = " ".join(page[page.find("<h1>"):page.find("<h2>")].split())
    assert "commission 0.100% of notional · slippage 0.0 bps · spread 0.050% · fills capped at 10.000% of a bar's volume" in costs
    assert "src=\"http" not in page and "<script" not in page  # nothing to fetch: it opens offline

    archive, content = _download(client, f"/backtests/{run.pk}/tearsheet.zip")
    assert archive["Content-Disposition"] == f'attachment; filename="alphaloop-run-{run.pk}-sma_cross-tearsheet.zip"'
    names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    assert names == ["tearsheet.html", "equity.png", "drawdown.png", "rolling_sharpe.png", "trades.png",
                     "monte_carlo.png", "regimes.png"]
    assert all(zipfile.ZipFile(io.BytesIO(content)).read(n)[:8] == PNG for n in names[1:])

    client.force_login(other_user)
    assert client.get(f"/backtests/{run.pk}/tearsheet.html").status_code == 404


def test_a_tearsheet_of_a_run_of_a_sweep_carries_its_heatmap_and_an_unfinished_run_has_none(client, user, committing_api,
                                                                                          spy_aapl_msft_bars):
    body = {"strategy_id": "sma_cross", "start_date": "2024-01-02", "end_date": "2025-12-31", "initial_capital": "10000",
            "params": {}, "symbols": ["AAPL"], "grid": {"fast": [5, 10], "slow": [30, 60]}}
    sweep = committing_api.post("/api/v1/backtest/sweep", body, format="json").data
    client.force_login(user)

    page = client.get(f"/backtests/{sweep['runs'][0]['id']}/tearsheet.html").content.decode()

    assert "<h2>Robustness: parameter sensitivity (sweep)</h2>" in page
    assert 'alt="Heatmap of the objective over two parameters of the sweep"' in page
    pending = BacktestRun.objects.create(user=user, strategy_id="sma_cross", symbols=["AAPL"], start_date="2024-01-02",
                                         end_date="2024-06-28", initial_capital=1000)
    response = client.get(f"/backtests/{pending.pk}/tearsheet.html")
    assert response.status_code == 409 and b"only a finished run has a tearsheet" in response.content


def test_the_cli_writes_a_tearsheet(spy_aapl_msft_bars, tmp_path):
    path = tmp_path / "sheet.html"
    out = StringIO()
    call_command("run_backtest", "--strategy", "sma_cross", "--symbol", "AAPL", "--start", "2024-01-02",
                 "--end", "2025-12-31", "--params", '{"fast": 10, "slow": 30}', "--tearsheet", str(path), stdout=out)

    page = path.read_text()
    assert f"tearsheet written to {path}" in out.getvalue()
    assert "<h2>Monthly returns</h2>" in page and page.count("data:image/png;base64,") == 6
