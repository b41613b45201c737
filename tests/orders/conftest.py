"""Fixtures of the orders tests: a frozen session time, a quoted instrument, order helpers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

UTC = dt.timezone.utc
# Tuesday 2026-11-24 15:00 UTC = 10:00 ET: the NYSE regular session is open.
SESSION_TIME = dt.datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


@pytest.fixture
def session_time(time_machine):
    """Freeze the clock inside a regular session (TRADING_HOURS_ONLY stays on, as in production)."""
    time_machine.move_to(SESSION_TIME, tick=False)
    return time_machine


@pytest.fixture
def quote(db):
    """``quote("AAPL", "100")``: store the latest quote without dispatching a tick."""
    from marketdata.pipeline import quote_store

    def _set(symbol: str, price) -> Decimal:
        return quote_store(symbol=symbol, price=Decimal(str(price)), source="test").price

    return _set


@pytest.fixture
def aapl(instrument_factory, bars_factory, quote):
    """AAPL with a previous close of 100.00 (bars up to 2026-11-23) and a live quote of 100.00."""
    bars_factory("AAPL", [98, 99, 100], end=dt.date(2026, 11, 23))
    quote("AAPL", "100")
    return instrument_factory("AAPL")


@pytest.fixture
def submit(account, session_time):
    """``submit(side, qty, **kwargs)``: order_submit on the default account at the frozen session time."""
    from orders.submission import order_submit

    def _submit(side: str, quantity, symbol: str = "AAPL", **kwargs):
        return order_submit(account=kwargs.pop("account", account), symbol=symbol, side=side,
                            quantity=Decimal(str(quantity)), **kwargs)

    return _submit


@pytest.fixture
def row_counts(db):
    """``row_counts()``: row counts of every table the order path may write."""
    from alphaloop.models import AuditLog
    from notifications.models import LiveEvent, NotificationLog
    from orders.models import ApprovalRequest, Fill, Order, Position, TradingPlan

    models = (AuditLog, Fill, Order, Position, TradingPlan, ApprovalRequest, LiveEvent, NotificationLog)
    return lambda: {model.__name__: model.objects.count() for model in models}


@pytest.fixture
def account_state(db):
    """``account_state(account)``: the money columns of the account as stored."""
    from orders.models import Account

    def _state(account) -> dict:
        row = Account.objects.get(pk=account.pk)
        return {"cash": row.cash, "realized_pnl": row.realized_pnl, "total_commission": row.total_commission,
                "breaker_session": row.breaker_session}

    return _state


def _jwt_client(user):
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def trader_api(session_time, user):
    """The trader's JWT client, its token issued at the frozen session time."""
    return _jwt_client(user)


@pytest.fixture
def outsider_api(session_time, other_user):
    return _jwt_client(other_user)
