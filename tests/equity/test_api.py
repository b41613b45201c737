"""The equity API: snapshots, attribution, alpha/beta (against empyrical), monthly returns; scoping and 400s."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import empyrical
import numpy as np
import pytest
import time_machine

from alphaloop.models import AuditLog
from equity.models import EquitySnapshot, TradePnlAttribution
from marketdata import calendar

NY = ZoneInfo("America/New_York")
D = Decimal


def ny(day: dt.date, hour: int = 15, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=NY)


def _snapshot(account, day, equity, daily=None, bench=None, cumulative=None, max_dd=None):
    return EquitySnapshot.objects.create(
        account=account, snapshot_date=day, total_equity=D(equity), cash=D(equity), daily_return=daily,
        benchmark_return=bench, cumulative_return=cumulative, max_drawdown=max_dd,
    )


def _attribution(account, symbol, pnl, day, strategy=None):
    return TradePnlAttribution.objects.create(
        account=account, symbol=symbol, trade_date=day, direction="LONG", entry_price=D("10"), exit_price=D("11"),
        quantity=D("1"), realized_pnl=D(pnl), strategy_tag=strategy,
    )


# --- POST /equity/snapshot ---------------------------------------------------------


@pytest.mark.django_db
def test_post_snapshot_takes_the_current_session_and_audits_it(fresh_api, account, fill_factory, bars_factory):
    day = dt.date(2026, 3, 5)
    bars_factory("AAPL", [100, 105], end=day)
    fill_factory(account, "AAPL", "BUY", 10, "100", ny(dt.date(2026, 3, 4)))

    with time_machine.travel(ny(dt.date(2026, 3, 7), 12), tick=False):  # Saturday: the current session is Friday...
        response = fresh_api(account.user).post("/api/v1/equity/snapshot", {}, format="json")

    assert response.status_code == 200, response.data
    assert response.data["snapshot_date"] == "2026-03-06"  # ...and Friday has no bar: marked at Thursday's close
    assert response.data["total_equity"] == "100050.00"
    assert AuditLog.objects.filter(action="equity.snapshot", user=account.user).count() == 1


@pytest.mark.django_db
def test_post_snapshot_for_a_given_date(api, account):
    response = api.post("/api/v1/equity/snapshot", {"date": "2026-03-05"}, format="json")
    assert response.status_code == 200
    assert EquitySnapshot.objects.get(account=account).snapshot_date == dt.date(2026, 3, 5)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, message",
    [
        ({"date": "2026-03-07"}, "not an NYSE session"),
        ({"date": "2026-12-25"}, "not an NYSE session"),
        ({"date": "2099-03-05"}, "future"),
        ({"date": "yesterday"}, "Date has wrong format"),
    ],
)
def test_post_snapshot_with_a_bad_date_is_a_400_on_date_and_writes_nothing(fresh_api, account, body, message):
    with time_machine.travel(ny(dt.date(2026, 12, 28), 17), tick=False):
        response = fresh_api(account.user).post("/api/v1/equity/snapshot", body, format="json")
    assert response.status_code == 400
    assert message in response.data["date"][0]
    assert not EquitySnapshot.objects.exists()


@pytest.mark.django_db
def test_a_stranger_cannot_snapshot_or_read_my_account(api, other_api, account):
    _snapshot(account, dt.date(2026, 3, 5), "100000", daily=D("0"))
    mine = f"?account_id={account.pk}"

    assert other_api.post(f"/api/v1/equity/snapshot{mine}", {"date": "2026-03-04"}, format="json").status_code == 404
    for path in ("snapshots", "pnl-attribution", "stats", "monthly-returns"):
        assert other_api.get(f"/api/v1/equity/{path}{mine}").status_code == 404, path
        assert api.get(f"/api/v1/equity/{path}{mine}").status_code == 200, path
    assert EquitySnapshot.objects.count() == 1


# --- GET /equity/snapshots -------------------------------------------------------------


@pytest.mark.django_db
def test_snapshots_of_the_last_n_days_in_the_spec_shape_with_drawdown(fresh_api, account):
    _snapshot(account, dt.date(2026, 2, 2), "104000", daily=D("0.04"))  # outside the window, but sets the peak
    _snapshot(account, dt.date(2026, 3, 4), "102000", daily=D("-0.019231"), bench=D("0.01"), max_dd=D("-0.019231"))
    _snapshot(account, dt.date(2026, 3, 5), "106080", daily=D("0.04"), bench=D("-0.005"), cumulative=D("0.0608"),
              max_dd=D("-0.019231"))

    with time_machine.travel(ny(dt.date(2026, 3, 5), 18), tick=False):
        response = fresh_api(account.user).get("/api/v1/equity/snapshots?days=30")

    assert response.status_code == 200
    rows = response.data["snapshots"]
    assert [(r["date"], r["equity"], r["daily_return"], r["benchmark_return"], r["drawdown"]) for r in rows] == [
        ("2026-03-04", "102000.00", "-0.019231", "0.010000", "-0.019231"),  # 102,000 / 104,000 - 1
        ("2026-03-05", "106080.00", "0.040000", "-0.005000", "0.000000"),
    ]
    assert rows[1]["cumulative_return"] == "0.060800" and rows[1]["max_drawdown"] == "-0.019231"


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["days=0", "days=abc", "days=3651", "account_id=x"])
def test_snapshots_with_a_bad_query_is_a_400_naming_the_parameter(api, account, query):
    response = api.get(f"/api/v1/equity/snapshots?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.data


# --- GET /equity/pnl-attribution ---------------------------------------------------------


@pytest.mark.django_db
def test_attribution_by_symbol_shares_the_sum_of_absolute_pnl(api, account):
    _attribution(account, "AAPL", "300.00", dt.date(2026, 3, 2), "breakout")
    _attribution(account, "AAPL", "-100.00", dt.date(2026, 3, 3), "breakout")
    _attribution(account, "MSFT", "-200.00", dt.date(2026, 3, 4), None)
    _attribution(account, "TSLA", "500.00", dt.date(2026, 4, 1), "fade")  # outside the window

    response = api.get("/api/v1/equity/pnl-attribution?start_date=2026-03-01&end_date=2026-03-31&group_by=symbol")

    assert response.status_code == 200
    assert response.data["total_pnl"] == "0.00"
    assert [(a["label"], a["pnl"], a["pct"], a["trades"], a["wins"]) for a in response.data["attributions"]] == [
        ("AAPL", "200.00", "50.00", 2, 1),  # percent: 200 / (|200| + |-200|) x 100
        ("MSFT", "-200.00", "-50.00", 1, 0),
    ]


@pytest.mark.django_db
def test_attribution_by_strategy_labels_untagged_trades(api, account):
    _attribution(account, "AAPL", "300.00", dt.date(2026, 3, 2), "breakout")
    _attribution(account, "MSFT", "-100.00", dt.date(2026, 3, 4), None)
    _attribution(account, "NVDA", "-50.00", dt.date(2026, 3, 4), "")

    response = api.get("/api/v1/equity/pnl-attribution?group_by=strategy")

    assert [(a["label"], a["pnl"], a["pct"]) for a in response.data["attributions"]] == [
        ("breakout", "300.00", "66.67"),
        ("untagged", "-150.00", "-33.33"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, field",
    [
        ("group_by=sector", "group_by"),
        ("start_date=2026-03-05&end_date=2026-03-01", "end_date"),
        ("start_date=march", "start_date"),
    ],
)
def test_attribution_with_a_bad_query_is_a_400_naming_the_parameter(api, account, query, field):
    response = api.get(f"/api/v1/equity/pnl-attribution?{query}")
    assert response.status_code == 400
    assert field in response.data


# --- GET /equity/stats and /equity/monthly-returns ---------------------------------------


@pytest.mark.django_db
def test_alpha_and_beta_match_empyrical_with_the_risk_free_rate(api, account, settings):
    settings.RISK_FREE_RATE = D("0.04")
    rng = np.random.default_rng(11)
    days = calendar.sessions_between(dt.date(2025, 1, 2), dt.date(2025, 12, 31))[:120]
    bench = np.round(rng.normal(0.0004, 0.01, len(days)), 6)
    returns = np.round(0.0002 + 1.3 * bench + rng.normal(0, 0.004, len(days)), 6)
    for day, r, b in zip(days, returns, bench):
        _snapshot(account, day, "100000", daily=D(str(r)), bench=D(str(b)))
    _snapshot(account, dt.date(2026, 1, 2), "100000", daily=D("0.5"))  # no benchmark: left out

    response = api.get("/api/v1/equity/stats?start_date=2025-01-01&end_date=2026-01-31")

    assert response.status_code == 200
    alpha, beta = empyrical.alpha_beta(returns, bench, risk_free=0.04 / 252, period="daily")
    assert response.data["observations"] == 120
    assert float(response.data["beta"]) == pytest.approx(beta, abs=1e-6)
    assert float(response.data["alpha"]) == pytest.approx(alpha, abs=1e-6)
    assert 1.2 < beta < 1.4
    assert float(response.data["correlation"]) == pytest.approx(np.corrcoef(returns, bench)[0, 1], abs=1e-6)
    assert response.data["start_date"] == days[0].isoformat()


@pytest.mark.django_db
def test_the_window_returns_compound_every_known_daily_return_as_the_equity_curve_does(api, account):
    _snapshot(account, dt.date(2026, 3, 2), "101000", daily=D("0.01"), bench=D("0.02"))
    _snapshot(account, dt.date(2026, 3, 3), "103020", daily=D("0.02"))  # no SPY bar that day
    _snapshot(account, dt.date(2026, 3, 4), "100929.69", daily=D("-0.020294"), bench=D("-0.01"))

    data = api.get("/api/v1/equity/stats?start_date=2026-03-02&end_date=2026-03-04").data

    assert data["total_return"] == "0.009293"  # 1.01 x 1.02 x 0.979706 - 1: all three sessions, as the curve
    assert data["benchmark_total_return"] == "0.009800"  # 1.02 x 0.99 - 1
    assert data["observations"] == 2  # alpha and beta pair only the sessions with both returns


@pytest.mark.django_db
def test_stats_without_enough_data_are_null_not_an_error(api, account):
    _snapshot(account, dt.date(2026, 3, 5), "100000", daily=D("0.01"), bench=D("0.02"))
    response = api.get("/api/v1/equity/stats")
    assert response.status_code == 200
    assert (response.data["observations"], response.data["alpha"], response.data["beta"]) == (1, None, None)


@pytest.mark.django_db
def test_monthly_returns_compound_the_daily_returns(api, account):
    _snapshot(account, dt.date(2026, 1, 30), "101000", daily=D("0.01"))
    _snapshot(account, dt.date(2026, 2, 2), "103020", daily=D("0.02"))
    _snapshot(account, dt.date(2026, 2, 3), "97869", daily=D("-0.05"))
    _snapshot(account, dt.date(2026, 3, 2), "97869", daily=None)

    response = api.get("/api/v1/equity/monthly-returns")

    assert response.status_code == 200
    assert response.data["monthly_returns"] == [
        {"year": 2026, "month": 1, "return": "0.010000"},
        {"year": 2026, "month": 2, "return": "-0.031000"},  # 1.02 * 0.95 - 1
    ]


@pytest.mark.django_db
def test_equity_schema_documents_every_endpoint(api, staff_api):
    response = staff_api.get("/api/schema/?format=json")
    paths = response.json()["paths"]
    for path in ("snapshot", "snapshots", "pnl-attribution", "stats", "monthly-returns"):
        assert f"/api/v1/equity/{path}" in paths


@pytest.mark.django_db
def test_days_counts_calendar_days_with_today_included(fresh_api, account):
    for day in (dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 5)):
        _snapshot(account, day, "100000", daily=D("0"))
    with time_machine.travel(ny(dt.date(2026, 3, 5), 18), tick=False):
        client = fresh_api(account.user)
        dates = {n: [r["date"] for r in client.get(f"/api/v1/equity/snapshots?days={n}").data["snapshots"]]
                 for n in (1, 3, 4)}
    assert dates == {1: ["2026-03-05"], 3: ["2026-03-03", "2026-03-05"],
                     4: ["2026-03-02", "2026-03-03", "2026-03-05"]}
