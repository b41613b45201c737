"""Walk-forward: windows, optimisation on train only, the winner out of sample, the stitched curve."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from io import StringIO
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from alphaloop.models import AuditLog
from backtest import walkforward
from backtest.models import WalkForwardRun, WalkForwardWindow
from backtest.services import RunSpec, WalkForwardSpec, backtest_walk_forward_create
from backtest.strategies.base import Strategy, param
from marketdata import calendar
from marketdata.models import Bar
from tests.backtest.conftest import build_panel


class Direction(Strategy):
    """All-in long (side 1) or short (side -1) on the window's first bar, held; side 0 stays flat."""

    id = "direction_test"

    @dataclass(frozen=True)
    class Params:
        side: int = param(1, minimum=-1, maximum=1, description="+1 long, -1 short, 0 flat")

    def init(self, data):
        first = np.zeros(len(data.index), dtype=bool)
        first[self.start_bar] = True
        self.wake_on(first)

    def on_bar(self, data):
        if data.t == self.start_bar and self.params.side:
            (self.buy if self.params.side > 0 else self.sell)(0)


# 30 sessions: up a dollar a day to 119, then down two a day to 99. open = high = low = close.
PRICES = [100.0 + t for t in range(20)] + [119.0 - 2 * (t - 19) for t in range(20, 30)]


def _growth(values: list[float]) -> float:
    return values[-1] / values[0]


def _cagr(values: list[float]) -> float:
    return _growth(values) ** (252 / (len(values) - 1)) - 1


def test_windows_roll_by_step_and_the_last_test_window_ends_at_the_last_session():
    sessions = [d.date() for d in pd.bdate_range("2024-01-01", periods=30)]
    plans = walkforward.windows_plan(sessions, [], train_days=10, test_days=5, step_days=5, anchored=False)

    assert [(p.train_start, p.train_end, p.test_start, p.test_end) for p in plans] == [
        (sessions[0], sessions[9], sessions[10], sessions[14]), (sessions[5], sessions[14], sessions[15], sessions[19]),
        (sessions[10], sessions[19], sessions[20], sessions[24]), (sessions[15], sessions[24], sessions[25], sessions[29])]
    assert [p.test_history for p in plans] == [sessions[0], sessions[5], sessions[10], sessions[15]]
    anchored = walkforward.windows_plan(sessions, [], train_days=10, test_days=7, step_days=8, anchored=True)
    assert [(p.train_start, p.train_end, p.test_start, p.test_end) for p in anchored] == [
        (sessions[0], sessions[9], sessions[10], sessions[16]), (sessions[0], sessions[17], sessions[18], sessions[24]),
        (sessions[0], sessions[25], sessions[26], sessions[29])]  # the last test window: 4 sessions
    assert walkforward.windows_count(30, train_days=10, test_days=5, step_days=5) == 4
    assert walkforward.windows_count(11, train_days=10, test_days=5, step_days=5) == 0  # one session: no return


def test_each_window_trades_the_train_winner_out_of_sample_and_the_pieces_chain_exactly():
    panel = build_panel([(p, p, p, p) for p in PRICES])
    sessions = [ts.date() for ts in panel["close"].index]
    plans = walkforward.windows_plan(sessions, [], train_days=10, test_days=5, step_days=5, anchored=False)
    combos, _ = walkforward.grid_combinations(Direction, {}, {"side": [-1, 0, 1]})
    windows = [walkforward.window_evaluate(panel, Direction, combos, plan, objective="total_return",
                                           initial_capital=10_000.0) for plan in plans]

    # Train windows 0-2 rose: long won. Window 3 trained on 115..119 then down to 109: short won.
    assert [w["params"]["side"] for w in windows] == [1, 1, 1, -1]
    # Out of sample, all-in at the open after the window's first session:
    # w0 buys 90 at 111 (closes 111..114); w1 buys 86 at 116 (..119); w2 buys 86 at 115, it falls to 109;
    # w3 shorts 95 at 105, it falls to 99.
    expected = [[10000, 10000, 10090, 10180, 10270], [10000, 10000, 10086, 10172, 10258],
                [10000, 10000, 9828, 9656, 9484], [10000, 10000, 10190, 10380, 10570]]
    assert [[v for _, v in w["equity"]] for w in windows] == expected
    assert windows[0]["in_sample"]["total_return"] == pytest.approx(99 * (109 - 101) / 10_000)  # 99 shares at 101
    assert windows[3]["objective_in_sample"] == pytest.approx(86 * (116 - 109) / 10_000)  # short 86 at 116
    assert windows[2]["efficiency"] < 0  # lost out of sample what won in sample
    assert windows[0]["efficiency"] == pytest.approx(_cagr(expected[0]) / _cagr([10000, 10000] + [10000 + 99 * (p - 101) for p in PRICES[2:10]]), abs=1e-6)

    stitched = walkforward.stitch(windows, initial_capital=10_000.0)
    final = 10_000 * _growth(expected[0]) * _growth(expected[1]) * _growth(expected[2]) * _growth(expected[3])
    assert stitched["equity_curve"][0] == {"date": sessions[10].isoformat(), "equity": 10000.0, "drawdown": 0.0,
                                           "benchmark": None, "window": 0}
    assert stitched["equity_curve"][-1]["equity"] == round(final, 2) == 10560.87
    assert len(stitched["equity_curve"]) == 20 and [p["window"] for p in stitched["equity_curve"]][::5] == [0, 1, 2, 3]
    assert stitched["metrics"]["n_trades"] == 0 and len(stitched["open_trades"]) == 4  # each window held to its end
    assert stitched["metrics"]["total_return"] == pytest.approx(final / 10_000 - 1, abs=1e-6)
    assert stitched["windows_profitable"] == 3


def test_combinations_the_strategy_refuses_are_skipped_with_the_reason():
    from backtest.strategies.sma_cross import SmaCross

    valid, skipped = walkforward.grid_combinations(SmaCross, {"allow_short": False}, {"fast": [10, 50], "slow": [20, 100]})

    assert [(c["fast"], c["slow"], c["allow_short"]) for c in valid] == [(10, 20, False), (10, 100, False), (50, 100, False)]
    assert skipped == [{"params": {"fast": 50, "slow": 20}, "reason": "fast: must be smaller than slow (20), got 50"}]


class Peeker(Strategy):
    """Records the last date its data could show (in init the panel's end; in on_bar today)."""

    id = "peeker_test"
    seen: ClassVar[list[tuple[date, date]]] = []  # (first session it may trade, last date it could see) per backtest

    @dataclass(frozen=True)
    class Params:
        fast: int = param(5, minimum=1, description="unused: gives the grid something to vary")

    def init(self, data):
        Peeker.seen.append((data.index[self.start_bar].date(), data.index[-1].date()))

    def on_bar(self, data):
        first, latest = Peeker.seen[-1]
        Peeker.seen[-1] = (first, max(latest, data.date.date()))
        if data.t == self.start_bar:
            self.buy(0)


def test_a_window_never_sees_its_test_sessions_while_optimising(user, spy_aapl_msft_bars, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    monkeypatch.setitem(__import__("backtest.strategies", fromlist=["STRATEGIES"]).STRATEGIES, "peeker_test", Peeker)
    monkeypatch.setattr(Peeker, "seen", [])
    spec = WalkForwardSpec(run=RunSpec("peeker_test", {}, ["AAPL"], date(2024, 1, 2), date(2025, 12, 31),
                                       Decimal(10000)),
                           grid={"fast": [1, 2, 3]}, train_days=100, test_days=60)
    with django_capture_on_commit_callbacks(execute=True):
        run = backtest_walk_forward_create(user=user, spec=spec)

    run.refresh_from_db()
    assert run.status == "SUCCEEDED" and run.windows_done == run.windows_total == 7
    windows = list(WalkForwardWindow.objects.filter(run=run).order_by("index"))
    # Train windows start every 60 sessions from the first, test windows 100 sessions later: no train window
    # starts where a test window does, so each record tells which part of which window it was.
    for window in windows:
        trained = [latest for first, latest in Peeker.seen if first == window.train_start]
        tested = [latest for first, latest in Peeker.seen if first == window.test_start]
        assert len(trained) == 3 and max(trained) <= window.train_end  # optimising never saw a test session
        assert tested == [window.test_end]  # the winner, out of sample
    # A window's test data begins the session after its train data ends.
    assert all(calendar.next_session(w.train_end) == w.test_start for w in windows)


def _body(**overrides):
    data = {"strategy_id": "sma_cross", "symbols": ["AAPL"], "start_date": "2024-01-02", "end_date": "2025-12-31",
            "initial_capital": "10000", "commission": "0.001", "params": {"allow_short": False},
            "grid": {"fast": [5, 10, 20], "slow": [30, 50]}, "train_days": 120, "test_days": 60,
            "objective": "sharpe"}
    data.update(overrides)
    return data


def test_a_walk_forward_through_the_api_runs_its_windows_and_stitches_them(committing_api, other_api, spy_aapl_msft_bars):
    api = committing_api
    response = api.post("/api/v1/backtest/walk-forward", _body(), format="json")

    assert response.status_code == 202, response.data
    assert (response.data["status"], response.data["windows_total"]) == ("PENDING", 7)
    result = api.get(response.data["results_url"]).data
    assert result["status"] == "SUCCEEDED" and result["windows_done"] == 7
    assert len(result["combinations"]) == 6 and result["skipped"] == []
    windows = result["windows"]
    assert [w["index"] for w in windows] == list(range(7)) and {w["status"] for w in windows} == {"SUCCEEDED"}
    for window in windows:
        chosen = window["result"]["params"]
        scores = window["result"]["scores"]
        best = max(v for v in scores if v is not None)
        assert scores.index(best) == window["result"]["combination"]
        assert result["combinations"][scores.index(best)] == chosen
        assert window["result"]["objective_in_sample"] == best
    curve = result["result"]["equity_curve"]
    assert curve[0]["date"] == windows[0]["test_start"] and curve[-1]["date"] == "2025-12-31"
    assert curve[0]["equity"] == 10000.0 and curve[0]["benchmark"] == 10000.0
    assert result["result"]["metrics"]["final_equity"] == pytest.approx(curve[-1]["equity"], abs=0.005)
    assert result["result"]["metrics"]["n_trades"] == len(result["result"]["trades"])
    assert AuditLog.objects.filter(action="backtest.walk_forward", resource=f"walk_forward:{result['id']}").count() == 1
    assert [r["id"] for r in api.get("/api/v1/backtest/walk-forward").data["results"]] == [result["id"]]
    assert other_api.get(response.data["results_url"]).status_code == 404
    assert other_api.get("/api/v1/backtest/walk-forward").data["results"] == []


def test_a_walk_forward_trades_every_window_with_its_spread_and_volume_cap(committing_api, spy_aapl_msft_bars):
    response = committing_api.post("/api/v1/backtest/walk-forward",
                                   _body(spread="0.002", max_volume_fraction="0.000002"), format="json")

    assert response.status_code == 202, response.data
    result = committing_api.get(response.data["results_url"]).data
    assert result["status"] == "SUCCEEDED"
    assert (result["spread"], result["max_volume_fraction"]) == ("0.002000", "0.000002")
    trades = result["result"]["trades"]
    assert trades
    bars = {bar.date.isoformat(): bar for bar in Bar.objects.filter(instrument__symbol="AAPL")}
    for trade in trades:  # long only: bought at the open's ask, sold at its bid, at most 2e-6 of the volume
        entry, exit_ = bars[trade["entry_date"]], bars[trade["exit_date"]]
        assert trade["entry_price"] == pytest.approx(float(entry.open) * 1.001, abs=1e-6)
        assert trade["exit_price"] == pytest.approx(float(exit_.open) * 0.999, abs=1e-6)
        assert trade["quantity"] <= int(entry.volume * 2e-6)


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"step_days": 30}, "step_days", "at least test_days"),
    ({"train_days": 600}, "train_days", "leaves no test window"),
    ({"train_days": 10, "test_days": 2, "step_days": 2}, "step_days", "at most 60"),
    ({"train_days": 20, "test_days": 10, "grid": {"fast": list(range(1, 41)), "slow": [60, 70, 80, 90, 100]}},
     "grid", "49 windows x 200 combinations = 9800 backtests; at most 2000"),
    ({"grid": {"fast": [50, 60], "slow": [20, 30]}}, "grid", "refuses every combination"),
    ({"params": {"period": 3}}, "params", "no parameter 'period'"),
    ({"params": {"fast": 5}}, "params", "in params and in grid"),
    ({"symbols": ["ZZZ"]}, "symbols", "Unknown symbol"),
])
def test_bad_walk_forwards_get_a_400_naming_the_field_and_write_nothing(committing_api, spy_aapl_msft_bars,
                                                                       overrides, field, words):
    response = committing_api.post("/api/v1/backtest/walk-forward", _body(**overrides), format="json")

    assert response.status_code == 400 and words in str(response.data.get(field)), response.data
    assert not WalkForwardRun.objects.exists() and not WalkForwardWindow.objects.exists()


def test_an_oversized_walk_forward_is_refused_before_any_window_or_combination_is_built(committing_api,
                                                                                       spy_aapl_msft_bars, monkeypatch):
    def nothing_may_be_built(*args, **kwargs):
        raise AssertionError("built before the size was checked")

    monkeypatch.setattr("itertools.product", nothing_may_be_built)
    monkeypatch.setattr(walkforward, "windows_plan", nothing_may_be_built)
    grid = {"fast": list(range(1, 101)), "slow": list(range(101, 201))}
    response = committing_api.post("/api/v1/backtest/walk-forward", _body(grid=grid), format="json")

    assert response.status_code == 400
    assert response.data["grid"] == ["100 x 100 = 10000 combinations; at most 200 combinations per walk-forward."]


def test_the_cli_runs_a_walk_forward_and_prints_its_windows(spy_aapl_msft_bars):
    out = StringIO()
    call_command("run_backtest", "--strategy", "sma_cross", "--symbol", "AAPL", "--start", "2024-01-02",
                 "--end", "2025-12-31", "--params", '{"allow_short": false}', "--walk-forward",
                 "--grid", '{"fast": [5, 10], "slow": [30, 50]}', "--train-days", "120", "--test-days", "60",
                 "--objective", "total_return", "--json", stdout=out)
    data = json.loads(out.getvalue())

    assert len(data["windows"]) == 7 and data["objective"] == "total_return"
    assert all(w["params"]["fast"] in (5, 10) for w in data["windows"])
    assert data["metrics"]["final_equity"] == pytest.approx(data["equity_curve"][-1]["equity"], abs=0.005)
    summary = StringIO()
    call_command("run_backtest", "--strategy", "sma_cross", "--symbol", "AAPL", "--start", "2024-01-02",
                 "--end", "2025-12-31", "--walk-forward", "--grid", '{"fast": [5, 10], "slow": [30, 50]}',
                 "--train-days", "120", "--test-days", "60", stdout=summary)
    assert "walk-forward efficiency" in summary.getvalue() and "window 7" in summary.getvalue()


def test_windows_are_counted_on_the_sessions_with_bars_even_when_the_dates_reach_past_the_calendar(committing_api,
                                                                                                    spy_aapl_msft_bars):
    """Bars run 2024-01-02 to 2025-12-31; the NYSE calendar ends two years from today."""
    response = committing_api.post("/api/v1/backtest/walk-forward",
                                   _body(start_date="0001-01-03", end_date="2090-12-31"), format="json")

    assert response.status_code == 202, response.data
    run = WalkForwardRun.objects.get()
    windows = list(run.windows.order_by("index"))
    assert run.status == "SUCCEEDED" and len(windows) == 7
    assert (windows[0].train_start, windows[-1].test_end) == (date(2024, 1, 2), date(2025, 12, 31))
