"""Backtest runs through the API, the Celery task and the CLI, on stored bars."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from backtest.models import BacktestRun
from backtest.services import RunSpec, backtest_compute, backtest_execute, backtest_runs_reap
from marketdata import calendar
from marketdata.models import Bar
from marketdata.services import bars_import
from marketdata.synthetic import generate_universe

START, END = date(2024, 1, 2), date(2025, 12, 31)


@pytest.fixture
def stored_bars(db):
    index = calendar.sessions_index(START, END)
    for symbol, frame in generate_universe(["SPY", "AAPL", "MSFT"], START, END, seed=11, sessions=index).items():
        rows = [{"date": ts.date(), "open": Decimal(str(r.open)), "high": Decimal(str(r.high)), "low": Decimal(str(r.low)),
                 "close": Decimal(str(r.close)), "adj_close": None, "volume": int(r.volume)}
                for ts, r in zip(frame.index, frame.itertuples(index=False))]
        bars_import(symbol=symbol, rows=rows, is_synthetic=True)


@pytest.fixture
def api(api, django_capture_on_commit_callbacks):
    """The JWT client, with each POST's on-commit task dispatch run (as a real commit would)."""
    post = api.post

    def post_and_commit(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post(*args, **kwargs)

    api.post = post_and_commit
    return api


def body(**overrides):
    data = {"strategy_id": "sma_cross", "start_date": "2024-01-02", "end_date": "2025-12-31",
            "initial_capital": "10000", "params": {"fast": 10, "slow": 30}, "symbols": ["AAPL"], "commission": "0.002"}
    data.update(overrides)
    return data


def test_a_run_is_accepted_executed_and_its_results_match_the_engine(api, stored_bars):
    response = api.post("/api/v1/backtest/run", body(), format="json")
    assert response.status_code == 202
    result = api.get(response.data["results_url"]).data
    assert result["status"] == "SUCCEEDED" and result["progress"] == 1.0
    direct = backtest_compute(RunSpec("sma_cross", {"fast": 10, "slow": 30, "allow_short": True}, ["AAPL"], START, END,
                                      Decimal("10000"), Decimal("0.002"))).to_dict()
    assert result["metrics"] == direct["metrics"]
    assert result["trades"] == direct["trades"] and len(result["trades"]) > 3
    assert result["equity_curve"][-1] == direct["equity_curve"][-1]
    assert result["metrics"]["beta"] is not None  # SPY stored: alpha/beta computed
    assert set(result["metrics"]) >= {"sharpe", "sortino", "max_dd", "win_rate", "profit_factor"}


def test_a_run_with_a_spread_and_a_volume_cap_records_them_and_fills_by_them(api, stored_bars):
    response = api.post("/api/v1/backtest/run", body(spread="0.001", max_volume_fraction="0.000002"), format="json")
    assert response.status_code == 202
    result = api.get(response.data["results_url"]).data
    assert result["status"] == "SUCCEEDED"
    assert (result["spread"], result["max_volume_fraction"]) == ("0.001000", "0.000002")
    run = BacktestRun.objects.get(pk=response.data["id"])
    assert (run.spread, run.max_volume_fraction) == (Decimal("0.001"), Decimal("0.000002"))
    spec = RunSpec("sma_cross", {"fast": 10, "slow": 30, "allow_short": True}, ["AAPL"], START, END, Decimal("10000"),
                   Decimal("0.002"), spread=Decimal("0.001"), max_volume_fraction=Decimal("0.000002"))
    direct = backtest_compute(spec)
    assert result["trades"] == direct.to_dict()["trades"] and result["metrics"] == direct.to_dict()["metrics"]
    # Two millionths of a bar's ~5,000,000 shares is ~10: all-in orders of 10,000 are cut, and say so.
    capped = result["volume_capped_orders"]
    assert capped and capped == direct.to_dict()["volume_capped_orders"]
    assert capped[0]["reason"].startswith("volume cap: filled ") and "(0.0002% of the bar's volume of " in capped[0]["reason"]
    # Half the spread on each fill, against the bar's open.
    fill = direct.fills[0]
    bar_open = direct.equity.index[fill.bar]
    assert fill.price == pytest.approx(float(Bar.objects.get(instrument__symbol="AAPL", date=bar_open.date()).open)
                                       * (1 + 0.0005 if fill.side == "buy" else 1 - 0.0005), rel=1e-12)
    # Without them: no spread, no cap.
    plain = api.get(api.post("/api/v1/backtest/run", body(), format="json").data["results_url"]).data
    assert (plain["spread"], plain["max_volume_fraction"], plain["volume_capped_orders"]) == ("0.000000", None, [])


def test_a_run_takes_its_decimals_as_json_numbers_read_exactly(api, stored_bars):
    response = api.post("/api/v1/backtest/run", body(initial_capital=100000, commission=0.001, strategy_id="SMA_Cross"),
                        format="json")

    assert response.status_code == 202, response.data
    run = BacktestRun.objects.get(pk=response.data["id"])
    assert (run.strategy_id, run.initial_capital, run.commission) == ("sma_cross", Decimal("100000"), Decimal("0.001"))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"strategy_id": "nope"}, "strategy_id"), ({"params": {"fast": 50, "slow": 20}}, "params"),
     ({"params": {"fast": "ten"}}, "params"), ({"end_date": "2023-01-01"}, "end_date"),
     ({"symbols": ["ZZZ"]}, "symbols"), ({"symbols": []}, "symbols"), ({"initial_capital": "-5"}, "initial_capital"),
     ({"start_date": "2010-01-01", "end_date": "2011-01-01"}, "symbols"), ({"spread": "-0.001"}, "spread"),
     ({"spread": "0.2"}, "spread"), ({"spread": "wide"}, "spread"), ({"max_volume_fraction": "0"}, "max_volume_fraction"),
     ({"max_volume_fraction": "1.5"}, "max_volume_fraction")],
)
def test_bad_run_requests_get_a_400_naming_the_field_and_write_nothing(api, stored_bars, overrides, field):
    response = api.post("/api/v1/backtest/run", body(**overrides), format="json")
    assert response.status_code == 400 and field in response.data, response.data
    assert not BacktestRun.objects.exists()


def test_another_user_cannot_read_my_run(api, other_api, stored_bars):
    run_id = api.post("/api/v1/backtest/run", body(), format="json").data["id"]
    assert other_api.get(f"/api/v1/backtest/results/{run_id}").status_code == 404
    assert other_api.get("/api/v1/backtest/runs").data["results"] == []
    assert api.get("/api/v1/backtest/runs").data["count"] == 1


def test_strategies_list_their_parameter_schema(api):
    strategies = {s["id"]: s for s in api.get("/api/v1/backtest/strategies").data["results"]}
    assert {"sma_cross", "rsi_reversion", "factor_rank", "buy_and_hold"} <= set(strategies)
    assert strategies["sma_cross"]["params"]["allow_short"]["default"] is True


def test_a_parameter_sweep_runs_every_combination_side_by_side(api, stored_bars):
    response = api.post("/api/v1/backtest/sweep", body(grid={"fast": [5, 10], "slow": [20, 40]}), format="json")
    assert response.status_code == 202 and len(response.data["runs"]) == 4
    runs = api.get(f"/api/v1/backtest/runs?sweep_id={response.data['sweep_id']}").data["results"]
    assert len(runs) == 4 and {r["status"] for r in runs} == {"SUCCEEDED"}
    assert sorted((r["params"]["fast"], r["params"]["slow"]) for r in runs) == [(5, 20), (5, 40), (10, 20), (10, 40)]
    assert api.get("/api/v1/backtest/runs?sweep_id=not-a-uuid").status_code == 400


def test_a_failing_run_stores_its_error_instead_of_staying_running(api, stored_bars, monkeypatch):
    def explode(spec, progress=None):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("backtest.services.backtest_compute", explode)
    run_id = api.post("/api/v1/backtest/run", body(), format="json").data["id"]
    run = BacktestRun.objects.get(pk=run_id)
    assert run.status == "FAILED" and run.error == "RuntimeError: disk on fire" and run.finished_at


def test_a_second_delivery_of_a_finished_run_does_nothing(api, stored_bars):
    run_id = api.post("/api/v1/backtest/run", body(), format="json").data["id"]
    finished = BacktestRun.objects.get(pk=run_id).finished_at
    assert backtest_execute(run_id=run_id) is None
    assert BacktestRun.objects.get(pk=run_id).finished_at == finished


def test_a_run_whose_worker_died_is_reclaimed_or_reaped(user, stored_bars, settings):
    old = timezone.now() - timedelta(seconds=settings.BACKTEST_STALE_SECONDS * 4)
    common = {"user": user, "strategy_id": "sma_cross", "params": {"fast": 10, "slow": 30}, "symbols": ["AAPL"],
              "start_date": START, "end_date": END, "initial_capital": 10000, "status": "RUNNING", "heartbeat_at": old}
    redelivered = BacktestRun.objects.create(**common)
    assert backtest_execute(run_id=redelivered.pk).status == "SUCCEEDED"
    abandoned = BacktestRun.objects.create(**common)
    fresh = BacktestRun.objects.create(**{**common, "heartbeat_at": timezone.now()})
    assert backtest_runs_reap() == 1
    assert BacktestRun.objects.get(pk=abandoned.pk).status == "FAILED"
    assert BacktestRun.objects.get(pk=fresh.pk).status == "RUNNING"


def test_cli_prints_json_after_import_bars(stored_bars, tmp_path):
    out = StringIO()
    call_command("run_backtest", "--strategy", "sma_cross", "--symbol", "AAPL", "--start", "2024-01-02",
                 "--end", "2025-12-31", "--cash", "10000", "--commission", "0.002",
                 "--params", '{"fast": 10, "slow": 30}', "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert set(data) == {"metrics", "trades", "open_trades", "equity_curve", "volume_capped_orders"}
    assert data["metrics"]["n_trades"] == len(data["trades"]) > 0
    plot = tmp_path / "curve.png"
    summary = StringIO()
    call_command("run_backtest", "--strategy", "buy_and_hold", "--symbol", "AAPL,MSFT", "--start", "2024-01-02",
                 "--end", "2025-12-31", "--plot", str(plot), stdout=summary)
    assert "Sharpe" in summary.getvalue() and plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(CommandError, match="params"):
        call_command("run_backtest", "--strategy", "sma_cross", "--symbol", "AAPL", "--start", "2024-01-02",
                     "--end", "2025-12-31", "--params", '{"fast": -1}')


def test_cli_takes_a_spread_and_a_volume_cap(stored_bars):
    out = StringIO()
    call_command("run_backtest", "--strategy", "sma_cross", "--symbol", "AAPL", "--start", "2024-01-02",
                 "--end", "2025-12-31", "--spread", "0.001", "--max-volume-fraction", "0.000002", stdout=out)
    assert "orders cut by the volume cap: " in out.getvalue()
    for flag, value in (("--spread", "0.5"), ("--max-volume-fraction", "0"), ("--spread", "wide")):
        with pytest.raises(CommandError, match=flag):
            call_command("run_backtest", "--strategy", "sma_cross", "--symbol", "AAPL", "--start", "2024-01-02",
                         "--end", "2025-12-31", flag, value)


@pytest.mark.django_db(transaction=True)
def test_a_run_the_task_queue_refuses_is_a_503_and_ends_failed_not_pending(user, stored_bars, monkeypatch):
    from celery import Task
    from kombu.exceptions import OperationalError

    from tests.conftest import jwt_client

    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(Task, "apply_async", broker_down)
    response = jwt_client(user).post("/api/v1/backtest/run", body(), format="json")

    assert response.status_code == 503 and response.data["code"] == "queue_unavailable"
    assert response["Retry-After"] == "5"
    run = BacktestRun.objects.get()
    assert (run.status, run.error) == (BacktestRun.FAILED, "Not started: the task queue was unavailable.")


def test_a_sweep_over_the_cap_is_refused_before_any_combination_is_built(api, stored_bars, monkeypatch):
    """4 parameters x 100 values is 10^8 combinations (gigabytes if built): counted first, refused at once."""

    def no_grid_may_be_built(*iterables):
        raise AssertionError("the grid was built before its size was checked")

    monkeypatch.setattr("itertools.product", no_grid_may_be_built)
    grid = {"top_n": list(range(1, 101)), "rebalance_days": list(range(1, 101)),
            "min_history": list(range(1, 101)), "min_dollar_volume": list(range(100))}
    response = api.post("/api/v1/backtest/sweep", body(strategy_id="factor_rank", params={}, grid=grid), format="json")

    assert response.status_code == 400
    assert response.data["grid"] == ["100 x 100 x 100 x 100 = 100000000 combinations; at most 200 runs per sweep."]
    assert not BacktestRun.objects.exists()


def test_a_sweep_value_list_longer_than_the_cap_is_refused_naming_the_parameter(api, stored_bars):
    response = api.post("/api/v1/backtest/sweep", body(grid={"slow": list(range(31, 332))}), format="json")

    assert response.status_code == 400 and "grid" in response.data, response.data
    assert "slow" in str(response.data["grid"]) and "200" in str(response.data["grid"])
    assert not BacktestRun.objects.exists()


def test_a_sweep_over_a_parameter_the_strategy_lacks_is_refused_naming_it(api, stored_bars):
    response = api.post("/api/v1/backtest/sweep", body(grid={"fast": [5, 10], "period": [3, 4]}), format="json")

    assert response.status_code == 400 and "period" in str(response.data["grid"]), response.data
    assert not BacktestRun.objects.exists()


def _sharpe_by_empyrical(equity_curve: list[dict], annual_rate: float) -> float:
    import empyrical
    import pandas as pd

    equity = pd.Series([p["equity"] for p in equity_curve], index=pd.to_datetime([p["date"] for p in equity_curve]))
    per_day = (1 + annual_rate) ** (1 / 252) - 1
    return float(empyrical.sharpe_ratio(equity.pct_change().dropna(), risk_free=per_day, period="daily"))


def test_a_backtest_sharpe_is_measured_against_a_zero_risk_free_rate_as_other_tools_do(api, stored_bars, settings):
    """backtrader, vectorbt and empyrical default to 0; the options rate (RISK_FREE_RATE) is not the backtest's."""
    settings.RISK_FREE_RATE = Decimal("0.04")
    run = api.get(api.post("/api/v1/backtest/run", body(), format="json").data["results_url"]).data

    assert run["risk_free_rate"] == "0.000000" and run["metrics"]["risk_free_rate"] == 0.0
    assert run["metrics"]["sharpe"] == pytest.approx(_sharpe_by_empyrical(run["equity_curve"], 0.0), abs=1e-4)
    assert run["metrics"]["sharpe"] != pytest.approx(_sharpe_by_empyrical(run["equity_curve"], 0.04), abs=1e-3)


def test_a_backtest_takes_its_risk_free_rate_from_the_run_or_the_setting_and_says_which(api, stored_bars, settings):
    settings.BACKTEST_RISK_FREE_RATE = Decimal("0.02")
    by_setting = api.get(api.post("/api/v1/backtest/run", body(), format="json").data["results_url"]).data
    by_run = api.get(api.post("/api/v1/backtest/run", body(risk_free_rate="0.05"), format="json").data["results_url"]).data

    assert (by_setting["risk_free_rate"], by_setting["metrics"]["risk_free_rate"]) == ("0.020000", 0.02)
    assert (by_run["risk_free_rate"], by_run["metrics"]["risk_free_rate"]) == ("0.050000", 0.05)
    assert by_setting["metrics"]["sharpe"] == pytest.approx(_sharpe_by_empyrical(by_setting["equity_curve"], 0.02), abs=1e-4)
    assert by_run["metrics"]["sharpe"] == pytest.approx(_sharpe_by_empyrical(by_run["equity_curve"], 0.05), abs=1e-4)
    refused = api.post("/api/v1/backtest/run", body(risk_free_rate="2"), format="json")
    assert refused.status_code == 400 and "risk_free_rate" in refused.data


def _spec_body(strategy_id: str, params: dict) -> dict:
    """The spec's own body (3.7): no symbols, no commission."""
    return {"strategy_id": strategy_id, "start_date": "2024-01-02", "end_date": "2025-12-31",
            "initial_capital": "10000", "params": params}


def test_the_spec_body_without_symbols_runs_on_the_strategys_default_universe_and_says_so(api, stored_bars):
    response = api.post("/api/v1/backtest/run", _spec_body("sma_cross", {"fast": 10, "slow": 30}), format="json")

    assert response.status_code == 202, response.data
    run = api.get(response.data["results_url"]).data
    assert run["status"] == "SUCCEEDED"
    assert (run["symbols"], run["default_universe"]) == (["SPY"], True)
    strategies = {s["id"]: s for s in api.get("/api/v1/backtest/strategies").data["results"]}
    assert strategies["sma_cross"]["default_universe"] == ["SPY"]


def test_a_cross_sectional_strategy_defaults_to_every_stock_with_bars_in_the_window(api, stored_bars):
    response = api.post("/api/v1/backtest/run", _spec_body("factor_rank", {"top_n": 1, "min_history": 20}), format="json")

    run = api.get(response.data["results_url"]).data
    assert (run["status"], run["symbols"], run["default_universe"]) == ("SUCCEEDED", ["AAPL", "MSFT"], True)
    given = api.get(api.post("/api/v1/backtest/run", body(), format="json").data["results_url"]).data
    assert (given["symbols"], given["default_universe"]) == (["AAPL"], False)


def test_a_default_universe_without_bars_in_the_window_is_a_400_naming_symbols(api, stored_bars):
    response = api.post("/api/v1/backtest/run", {**_spec_body("sma_cross", {}), "start_date": "2010-01-04",
                                                  "end_date": "2010-12-31"}, format="json")

    assert response.status_code == 400 and "SPY" in str(response.data["symbols"])
    assert not BacktestRun.objects.exists()


def test_the_equity_curve_carries_spy_bought_with_the_same_capital_on_the_first_bar(api, stored_bars):
    from marketdata.models import Bar

    run = api.get(api.post("/api/v1/backtest/run", body(), format="json").data["results_url"]).data

    spy = Bar.objects.filter(instrument__symbol="SPY", date__gte=START, date__lte=END).order_by("date")
    first, last = spy.first().close, spy.last().close
    curve = run["equity_curve"]
    assert curve[0]["benchmark"] == 10000.0
    assert curve[-1]["benchmark"] == pytest.approx(float(10000 * last / first), abs=0.01)
    assert all(point["benchmark"] is not None for point in curve)
