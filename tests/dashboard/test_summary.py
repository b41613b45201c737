"""DashboardService: every spec 3.1 field, exact numbers on a small book, bounded queries."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
import time_machine

from alerts.models import AlertHistory, PriceAlert
from equity.models import EquitySnapshot
from factors.models import Signal
from journal.models import TradeJournal
from marketdata.pipeline import quote_store, tick_ingest
from orders.models import Account, ApprovalRequest, Position, TradingPlan
from orders.risk import breaker_check

NOW = datetime(2026, 11, 24, 16, 0, tzinfo=dt_timezone.utc)  # Tuesday 11:00 ET, in session
SPEC_FIELDS = {"account_id", "total_equity", "cash", "market_value", "daily_pnl", "daily_return_pct", "mtd_return_pct",
               "ytd_return_pct", "plan_execution_rate", "active_plans_count", "risk_level", "exposure",
               "recent_signals", "pending_actions"}


@pytest.fixture(autouse=True)
def frozen_clock():
    """Frozen before the other fixtures, so the JWTs they issue are valid at NOW."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def book(account, instrument_factory):
    """Cash 80,000; 100 AAPL bought at 150, quoted 160; snapshots at month and year starts."""
    for symbol in ("AAPL", "MSFT"):
        instrument_factory(symbol)
    Account.objects.filter(pk=account.pk).update(cash=Decimal("80000.00"), initial_cash=Decimal("100000.00"))
    Position.objects.create(account=account, symbol="AAPL", quantity=Decimal("100"), avg_cost=Decimal("150"),
                            cost_basis=Decimal("15000.00"))
    quote_store(symbol="AAPL", price=Decimal("160"))
    quote_store(symbol="MSFT", price=Decimal("400"))
    EquitySnapshot.objects.create(account=account, snapshot_date=date(2025, 12, 31), total_equity=Decimal("90000.00"))
    EquitySnapshot.objects.create(account=account, snapshot_date=date(2026, 10, 30), total_equity=Decimal("95000.00"))
    EquitySnapshot.objects.create(account=account, snapshot_date=date(2026, 11, 23), total_equity=Decimal("97000.00"))
    account.refresh_from_db()
    return account


def test_summary_has_every_spec_field_with_exact_numbers(api, book):
    data = api.get("/api/v1/dashboard/summary").data
    assert SPEC_FIELDS <= set(data)
    assert data["total_equity"] == "96000.00"  # 80,000 + 100 x 160
    assert (data["cash"], data["market_value"]) == ("80000.00", "16000.00")
    assert data["daily_pnl"] == "-1000.00"  # vs 97,000 at Monday's close
    assert data["daily_return_pct"] == "-1.03"
    assert data["mtd_return_pct"] == "1.05"  # 96,000 / 95,000 - 1
    assert data["ytd_return_pct"] == "6.67"  # 96,000 / 90,000 - 1
    assert data["exposure"]["delta_pct"] == "16.6667"
    assert data["risk_level"] == "LOW" and data["plan_execution_rate"] is None


def test_risk_level_and_pending_actions(api, book, user, settings, django_capture_on_commit_callbacks):
    plan = TradingPlan.objects.create(account=book, symbol="MSFT", direction="LONG", entry_price=Decimal("401"),
                                      quantity=Decimal("10"))
    ApprovalRequest.objects.create(account=book, plan=plan, source="alert:1", token="ABC123")
    TradeJournal.objects.create(account=book, symbol="AAPL", direction="LONG", exit_date=date(2026, 11, 20))
    Position.objects.filter(account=book).update(quantity=Decimal("300"))  # 48,000 of 128,000 = 37.5%
    data = api.get("/api/v1/dashboard/summary").data
    assert data["risk_level"] == "MEDIUM" and "AAPL is 38% of equity" in data["risk_reasons"]
    assert [a["type"] for a in data["pending_actions"]] == ["approval", "plan", "journal"]
    assert data["active_plans_count"] == 1
    settings.MAX_DAILY_LOSS_PCT = Decimal("0.02")
    tick_ingest(symbol="AAPL", price=Decimal("50"), source="test")  # 80,000 + 300 x 50 = 95,000: -2.06%
    with django_capture_on_commit_callbacks(execute=True):  # the risk_warning goes out, as on a real commit
        assert breaker_check(account=book, now=NOW)
    data = api.get("/api/v1/dashboard/summary").data
    assert data["risk_level"] == "CRITICAL" and data["pending_actions"][0]["type"] == "breaker"


def test_the_cached_summary_never_hides_a_quote_or_an_order(api, book, django_assert_max_num_queries):
    first = api.get("/api/v1/dashboard/summary").data
    with django_assert_max_num_queries(3):  # the user, the account and the prices: the rest is cached
        again = api.get("/api/v1/dashboard/summary").data
    assert {k: v for k, v in again.items() if k != "as_of"} == {k: v for k, v in first.items() if k != "as_of"}
    tick_ingest(symbol="AAPL", price=Decimal("170"), source="test")
    assert api.get("/api/v1/dashboard/summary").data["total_equity"] == "97000.00"  # 80,000 + 100 x 170
    response = api.post("/api/v1/orders/submit", {"symbol": "MSFT", "side": "BUY", "quantity": "10",
                                                   "order_type": "MARKET", "client_order_id": "cache-1"}, format="json")
    assert response.status_code == 201, response.data
    after = api.get("/api/v1/dashboard/summary").data
    assert Decimal(after["cash"]) < Decimal("76000") and "MSFT" in [p["symbol"] for p in after["positions"]]


def test_the_summary_cache_can_be_turned_off(api, book, settings):
    settings.DASHBOARD_CACHE_SECONDS = 0
    api.get("/api/v1/dashboard/summary")
    Account.objects.filter(pk=book.pk).update(cash=Decimal("1.00"))  # a write outside the services
    assert api.get("/api/v1/dashboard/summary").data["cash"] == "1.00"


def test_summary_query_count_does_not_grow_with_rows(api, book, django_assert_max_num_queries, instrument_factory):
    def add_rows(n: int, offset: int) -> None:
        for i in range(offset, offset + n):
            symbol = f"S{i}"
            instrument_factory(symbol)
            quote_store(symbol=symbol, price=Decimal("10"))
            Position.objects.create(account=book, symbol=symbol, quantity=Decimal("1"), avg_cost=Decimal("9"),
                                    cost_basis=Decimal("9.00"))
            plan = TradingPlan.objects.create(account=book, symbol=symbol, direction="LONG", entry_price=Decimal("10"),
                                              quantity=Decimal("1"))
            ApprovalRequest.objects.create(account=book, plan=plan, source="signal:1", token=f"T{i}")
            TradeJournal.objects.create(account=book, symbol=symbol, direction="LONG")
            Signal.objects.create(symbol=symbol, as_of=date(2026, 11, 23), direction="LONG", strength=Decimal("0.7"),
                                  score=Decimal("1.4"))
            alert = PriceAlert.objects.create(account=book, symbol=symbol, condition_type="price_above", threshold=1)
            AlertHistory.objects.create(alert=alert, account=book, symbol=symbol, trigger_price=10, trigger_time=NOW)

    add_rows(2, 0)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as small:
        api.get("/api/v1/dashboard/summary")
    # user and account, one read of positions + prices, cash, snapshots (2), signals (2), alerts, plans (2),
    # approvals, partial orders, draft journals (2)
    assert len(small.captured_queries) <= 16
    add_rows(15, 2)
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert api.get("/api/v1/dashboard/summary").status_code == 200


def test_outsider_cannot_pick_my_account(other_api, book):
    assert other_api.get(f"/api/v1/dashboard/summary?account_id={book.pk}").status_code == 404


def test_an_admin_halting_the_account_shows_at_once_though_the_owner_did_nothing(api, book, staff_user):
    from orders.risk import account_trading_state_set

    assert api.get("/api/v1/dashboard/summary").data["risk_level"] != "CRITICAL"
    with time_machine.travel(NOW + timedelta(seconds=1), tick=False):  # the admin acts a second later
        account_trading_state_set(account=book, state=Account.HALTED, user=staff_user)
        data = api.get("/api/v1/dashboard/summary").data
    assert data["risk_level"] == "CRITICAL" and "trading halted" in data["risk_reasons"]


def test_any_change_of_the_account_row_ends_the_cached_state(api, book):
    api.get("/api/v1/dashboard/summary")
    later = NOW + timedelta(seconds=1)
    with time_machine.travel(later, tick=False):  # e.g. a fill booked by a worker, with no event for the user yet
        Account.objects.filter(pk=book.pk).update(cash=Decimal("70000.00"), updated_at=later)
        assert api.get("/api/v1/dashboard/summary").data["cash"] == "70000.00"
