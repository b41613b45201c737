from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from orders.models import TradingPlan
from tests.delivery import committed

# A Monday session; the bars fixture ends on the Friday before it.
MONDAY_1030_ET = datetime(2026, 11, 23, 15, 30, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _no_real_telegram(settings):
    """Nothing in these tests may reach api.telegram.org."""
    settings.TELEGRAM_BOT_TOKEN = ""
    settings.TELEGRAM_CHAT_ID = ""
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9"


@pytest.fixture
def aapl(instrument_factory):
    return instrument_factory("AAPL")


@pytest.fixture
def plan_factory(db):
    def _make(account, *, symbol="AAPL", direction=TradingPlan.LONG, quantity="10", entry_price="190", order_type="MARKET",
              status=TradingPlan.PENDING):
        return TradingPlan.objects.create(
            account=account, symbol=symbol, direction=direction, quantity=Decimal(quantity),
            entry_price=Decimal(entry_price), order_type=order_type, status=status,
        )

    return _make


@pytest.fixture
def tick():
    from marketdata.pipeline import tick_ingest

    def _tick(symbol: str, price: str, at: datetime = MONDAY_1030_ET):
        with committed():
            return tick_ingest(symbol=symbol, price=Decimal(price), timestamp=at, source="test")

    return _tick
