"""Fixtures of the hardening tests: a trader with a little of everything, the log output, the processes a test starts."""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from marketdata import calendar

SYMBOLS = {"AAPL": 180, "MSFT": 410, "SPY": 560}


@pytest.fixture(autouse=True)
def _no_real_telegram(settings):
    """Nothing in these tests may reach api.telegram.org."""
    settings.TELEGRAM_BOT_TOKEN = ""
    settings.TELEGRAM_CHAT_ID = ""
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9"


@dataclass
class Trader:
    user: object
    account: object
    access: str


@pytest.fixture
def market(bars_factory) -> list[str]:
    """Three instruments with a year of daily bars up to the last closed session, and a live quote each."""
    from marketdata.pipeline import quote_store

    last_close = calendar.last_closed_session(timezone.now())
    for symbol, base in SYMBOLS.items():
        closes = [base + (i % 17) - (i % 5) * 1.5 for i in range(260)]
        bars_factory(symbol, closes, end=last_close)
        quote_store(symbol=symbol, price=Decimal(str(closes[-1])), source="test")
    return list(SYMBOLS)


def _trader(make_user, username: str) -> Trader:
    """A user with an account, a plan, an alert and a resting order."""
    from alerts.services import alert_create
    from orders.plans import plan_create
    from orders.submission import order_submit

    user = make_user(username)
    account = user.accounts.get()
    plan_create(account=account, symbol="AAPL", direction="LONG", entry_price=Decimal("150"), quantity=Decimal("10"),
                stop_price=Decimal("140"), target_price=Decimal("190"))
    alert_create(account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal("500"))
    order_submit(account=account, symbol="MSFT", side="BUY", quantity=Decimal("1"), order_type="LIMIT",
                 limit_price=Decimal("300"), time_in_force="GTC")
    return Trader(user=user, account=account, access=str(RefreshToken.for_user(user).access_token))


@pytest.fixture
def trader(make_user, market) -> Trader:
    return _trader(make_user, "fuzzer")


@pytest.fixture
def outsider(make_user, market) -> Trader:
    """A second trader with the same kinds of rows: what the first owns must stay invisible to them."""
    return _trader(make_user, "outsider")


@pytest.fixture
def console_output():
    """``console_output()``: everything the configured console handler wrote, with every logger at DEBUG.

    The handler keeps its filters (credential redaction) and formatter: this is what an operator's
    log would hold. Works with or without pytest's logging plugin.
    """
    root = logging.getLogger()
    console = next(h for h in root.handlers if h.get_name() == "console")
    buffer = io.StringIO()
    previous_stream = console.setStream(buffer)
    loggers = [root, *(logging.getLogger(name) for name in list(logging.root.manager.loggerDict))]
    levels = {logger: logger.level for logger in loggers}
    handler_level = console.level
    console.setLevel(logging.DEBUG)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    yield buffer.getvalue
    console.setStream(previous_stream)
    console.setLevel(handler_level)
    for logger, level in levels.items():
        logger.setLevel(level)


@pytest.fixture
def processes():
    """Every process a test starts is stopped (or was killed) before the database is flushed."""
    started = []
    yield started
    for proc in started:
        proc.stop()
