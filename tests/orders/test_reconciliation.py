"""Reconciliation against Alpaca (orders.reconciliation): the books against a local Alpaca that alpaca-py talks to.

The account trades at the fake (ORDER_MODE=REAL, not paper); the clock is frozen inside a session, which the
fake's own clock follows, so its executions carry the session's time.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from alphaloop.models import AuditLog
from equity.models import EquitySnapshot
from notifications.models import NotificationLog
from orders.models import Account, BrokerMismatch, BrokerSync, Fill, Order, Position
from orders.reconciliation import broker_reconcile, broker_reconcile_all
from tests.alpaca_fake import FakeAlpaca

ADAPTER = "orders.brokers.alpaca.AlpacaBroker"


@pytest.fixture
def alpaca(session_time, settings, account, aapl):
    """The trader's account at a local Alpaca holding the same 100,000 cash; AAPL at 100 on both sides."""
    with FakeAlpaca() as fake:
        for name, value in fake.settings().items():
            setattr(settings, name, value)
        settings.ORDER_MODE = "REAL"
        settings.REAL_BROKER_ADAPTER = ADAPTER
        account.is_paper = False
        account.save()
        fake.set_price("AAPL", "100")
        yield fake


@pytest.fixture
def reconcile(django_capture_on_commit_callbacks):
    """``reconcile(account)``: one run, its after-commit deliveries (risk warnings) made."""
    def _run(account):
        with django_capture_on_commit_callbacks(execute=True):
            return broker_reconcile(account=account)

    return _run


def _warnings(account) -> list[str]:
    titles = NotificationLog.objects.filter(account=account, event_type="risk_warning").order_by("id")
    return list(dict.fromkeys(titles.values_list("title", flat=True)))  # one per warning (each channel logs it)


@pytest.mark.django_db
def test_matching_books_record_nothing_and_keep_the_brokers_figures(reconcile, alpaca, account):
    result = reconcile(account)

    assert (result.status, result.differences, result.imported) == ("matched", [], 0)
    assert BrokerMismatch.objects.count() == 0
    assert _warnings(account) == []
    assert Account.objects.get(pk=account.pk).trading_state == Account.ACTIVE
    sync = BrokerSync.objects.get(account=account)
    assert (sync.connected, sync.cash, sync.equity, sync.buying_power, sync.positions) == (
        True, D("100000.00"), D("100000.00"), D("100000.00"), [])


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "state"), [("reduce", Account.REDUCING), ("halt", Account.HALTED),
                                               ("warn", Account.ACTIVE)])
def test_a_position_changed_outside_alphaloop_is_recorded_warned_and_sets_the_trading_state(
        reconcile, alpaca, account, settings, action, state):
    settings.BROKER_MISMATCH_ACTION = action
    alpaca.set_position("AAPL", "15", "99.50")  # a transfer in at the broker: no order, no fill

    result = reconcile(account)

    assert result.status == "mismatch"
    row = BrokerMismatch.objects.get()
    assert (row.account_id, row.kind, row.symbol, row.ours, row.theirs, row.action, row.resolved_at) == (
        account.pk, "position", "AAPL", "0", "15", action, None)
    assert Position.objects.filter(account=account).count() == 0  # never overwritten
    account.refresh_from_db()
    assert account.trading_state == state
    assert _warnings(account)[0] == {"reduce": "Broker mismatch on PAPER-trader: the account now only reduces positions",
                                     "halt": "Broker mismatch on PAPER-trader: the account is halted",
                                     "warn": "Broker mismatch on PAPER-trader: the trading state is unchanged "
                                             "(BROKER_MISMATCH_ACTION=warn)"}[action]
    assert AuditLog.objects.get(action="broker.mismatch").payload["mismatches"][0]["theirs"] == "15"
    state_rows = AuditLog.objects.filter(action="account.trading_state", resource=f"account:{account.pk}")
    assert [r.payload["to"] for r in state_rows] == ([] if action == "warn" else [state])

    # The same difference again: still one open row, no second warning.
    reconcile(account)
    assert BrokerMismatch.objects.count() == 1
    assert len(_warnings(account)) == (1 if action == "warn" else 2)

    # Fixed at the broker: the mismatch is resolved; the trading state stays for the trader to lift.
    alpaca.set_position("AAPL", "0", "0")
    assert reconcile(account).status == "matched"
    assert BrokerMismatch.objects.get().resolved_at is not None
    assert Account.objects.get(pk=account.pk).trading_state == state


@pytest.mark.django_db
def test_a_reducing_mismatch_never_loosens_a_halted_account(reconcile, alpaca, account, settings):
    Account.objects.filter(pk=account.pk).update(trading_state=Account.HALTED)
    alpaca.set_position("MSFT", "-3", "300")

    reconcile(account)

    assert Account.objects.get(pk=account.pk).trading_state == Account.HALTED
    assert BrokerMismatch.objects.get().theirs == "-3"


@pytest.mark.django_db
def test_an_execution_placed_in_alpacas_own_app_is_imported_once_as_a_broker_fill(reconcile, alpaca, account):
    execution = alpaca.external_fill("AAPL", "buy", 5, "100.25")

    first = reconcile(account)
    second = reconcile(account)

    assert (first.status, first.imported, second.status, second.imported) == ("matched", 1, "matched", 0)
    fill = Fill.objects.get()
    assert (fill.external_id, fill.side, fill.quantity, fill.price, fill.order.source, fill.order.broker_order_id) == (
        execution.execution_id, "BUY", D("5"), D("100.25"), Order.BROKER, execution.order.id)
    assert Position.objects.get(account=account, symbol="AAPL").quantity == D("5")
    assert Account.objects.get(pk=account.pk).cash == D("99498.75")  # 100000 - 5 x 100.25, as at Alpaca
    assert BrokerMismatch.objects.count() == 0
    assert AuditLog.objects.filter(action="orders.external_fills").get().payload["origin"] == "reconciliation"


@pytest.mark.django_db
def test_an_order_open_at_alpaca_but_not_in_alphaloop_is_a_mismatch(reconcile, alpaca, account, settings):
    settings.BROKER_MISMATCH_ACTION = "warn"
    alpaca.brokerage.submit({"symbol": "AAPL", "qty": "2", "side": "buy", "type": "limit", "time_in_force": "day",
                             "limit_price": "90", "client_order_id": "from-the-app"})

    reconcile(account)

    row = BrokerMismatch.objects.get()
    assert (row.kind, row.symbol, row.ours) == ("order", "AAPL", "no such open order")
    assert row.theirs.endswith("BUY 2 ACCEPTED, placed outside AlphaLoop")


@pytest.mark.django_db
def test_an_unreachable_broker_is_said_once_and_changes_nothing(reconcile, alpaca, account):
    alpaca.fail_next("GET", "/v2/positions", status=500, times=4)

    first = reconcile(account)
    second = reconcile(account)

    assert (first.status, second.status) == ("unavailable", "unavailable")
    assert _warnings(account) == ["Broker unreachable: PAPER-trader is not reconciled"]
    assert BrokerMismatch.objects.count() == 0
    assert Account.objects.get(pk=account.pk).trading_state == Account.ACTIVE
    assert BrokerSync.objects.get(account=account).connected is False


@pytest.mark.django_db
def test_the_job_runs_in_real_mode_in_session_only(alpaca, account, settings, time_machine):
    alpaca.set_position("AAPL", "1", "100")
    assert broker_reconcile_all()["accounts"] == 1
    time_machine.move_to(dt.datetime(2026, 11, 24, 23, 0, tzinfo=dt.UTC), tick=False)
    assert broker_reconcile_all() == {"accounts": 0, "skipped": "market closed"}
    settings.ORDER_MODE = "PAPER"
    assert broker_reconcile_all(in_session_only=False) == {"accounts": 0, "skipped": "ORDER_MODE is not REAL"}


# --- REAL mode reads the broker's equity ------------------------------------------------------------------

@pytest.mark.django_db
def test_in_real_mode_the_account_equity_and_the_snapshot_are_the_brokers(
        reconcile, alpaca, account, trader_api, time_machine):
    alpaca.set_position("AAPL", "15", "99.50")
    alpaca.brokerage.cash = D("98000")
    reconcile(account)  # AlphaLoop's ledger still says 100,000 cash and nothing held

    summary = trader_api.get("/api/v1/account").data
    assert (summary["cash"], summary["equity"]) == ("98000.00", "99500.00")  # 98,000 + 15 x 100 (quote = Alpaca's)

    time_machine.move_to(dt.datetime(2026, 11, 24, 21, 30, tzinfo=dt.UTC), tick=False)  # 16:30 ET
    from equity.services import equity_snapshot_job_run

    equity_snapshot_job_run()
    snapshot = EquitySnapshot.objects.get(account=account)
    assert (snapshot.total_equity, snapshot.cash, snapshot.market_value, snapshot.unrealized_pnl) == (
        D("99500.00"), D("98000.00"), D("1500.00"), D("7.50"))  # 15 x (100 - 99.50)


@pytest.mark.django_db
def test_paper_accounts_keep_the_ledgers_equity(session_time, account, aapl, trader_api):
    BrokerSync.objects.create(account=account, broker="alpaca", cash=D("1"), equity=D("1"))

    assert trader_api.get("/api/v1/account").data["equity"] == "100000.00"


# --- GET /api/v1/broker/reconciliation --------------------------------------------------------------------

@pytest.mark.django_db
def test_the_api_lists_only_your_own_mismatches_newest_first(
        reconcile, alpaca, account, trader_api, outsider_api, other_user):
    alpaca.set_position("AAPL", "15", "99.50")
    reconcile(account)
    theirs = other_user.accounts.get()
    BrokerMismatch.objects.create(account=theirs, kind="cash", ours="1.00", theirs="2.00", action="warn",
                                  detected_at=dt.datetime(2026, 11, 24, 14, 0, tzinfo=dt.UTC))

    mine = trader_api.get("/api/v1/broker/reconciliation", {"open": "true", "page_size": 10})

    assert mine.status_code == 200
    assert mine.data["count"] == 1
    row = mine.data["results"][0]
    assert {k: row[k] for k in ("account", "kind", "symbol", "ours", "theirs", "action", "resolved_at")} == {
        "account": account.pk, "kind": "position", "symbol": "AAPL", "ours": "0", "theirs": "15", "action": "reduce",
        "resolved_at": None}
    assert trader_api.get("/api/v1/broker/reconciliation", {"open": "false"}).data["count"] == 0
    assert outsider_api.get("/api/v1/broker/reconciliation").data["count"] == 1  # only their own row
    assert outsider_api.get("/api/v1/broker/reconciliation", {"account_id": account.pk}).status_code == 404


# --- the pages ------------------------------------------------------------------------------------------------

@pytest.mark.django_db
@pytest.mark.parametrize(("mode", "paper_account", "alpaca_paper", "label", "css"), [
    ("PAPER", True, True, "PAPER", "mode-paper"),
    ("REAL", True, True, "PAPER", "mode-paper"),  # a paper account in REAL mode still trades on the simulator
    ("REAL", False, True, "ALPACA PAPER", "mode-alpaca-paper"),
    ("REAL", False, False, "ALPACA LIVE", "mode-live"),
])
def test_the_navbar_says_where_orders_go(client, user, account, settings, mode, paper_account, alpaca_paper, label,
                                         css):
    settings.ORDER_MODE, settings.REAL_BROKER_ADAPTER, settings.ALPACA_PAPER = mode, ADAPTER, alpaca_paper
    Account.objects.filter(pk=account.pk).update(is_paper=paper_account)
    client.force_login(user)

    page = client.get("/orders/").content.decode()

    assert f'<span id="trading-mode" class="mode {css}"' in page
    assert f">{label}</span>" in page
    assert ('id="broker-panel"' in page) is (label != "PAPER")


@pytest.mark.django_db
def test_connecting_the_trade_stream_reconciles_at_any_hour(alpaca, account, time_machine):
    import time

    from orders.brokers.alpaca_stream import AlpacaTradeStream

    time_machine.move_to(dt.datetime(2026, 11, 24, 23, 0, tzinfo=dt.UTC), tick=False)  # 18:00 ET, market closed
    alpaca.set_position("AAPL", "4", "100")
    stream = AlpacaTradeStream().start(booker=False)
    try:
        alpaca.wait_for_streams("trading")
        deadline = time.monotonic() + 20
        while stream.catch_ups < 1 and time.monotonic() < deadline:
            stream.step(0.05)

        row = BrokerMismatch.objects.get()  # read before stop(): it closes this thread's connection
        assert (row.kind, row.symbol, row.ours, row.theirs) == ("position", "AAPL", "0", "4")
        assert Account.objects.get(pk=account.pk).trading_state == Account.REDUCING
    finally:
        stream.stop()
