"""Shared fixtures: users with accounts, JWT-authenticated API clients, market data rows."""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken


SERVICES_RUN = bool(os.environ.get("ALPHALOOP_SERVICES_RUN"))


def pytest_collection_modifyitems(config, items):
    """`services` tests run only in the MariaDB + Redis pass of `make test`."""
    if SERVICES_RUN:
        return
    skip = pytest.mark.skip(reason="needs MariaDB + Redis (runs in the services pass of make test)")
    for item in items:
        if "services" in item.keywords or "real_worker" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def make_user(db):
    """A user with their paper account (made with the user, PAPER_INITIAL_CASH: 100,000)."""

    def _make(username: str = "trader", *, password: str = "correct-horse-battery", staff=False):
        return get_user_model().objects.create_user(username=username, password=password, is_staff=staff)

    return _make


@pytest.fixture
def user(make_user):
    return make_user("trader")


@pytest.fixture
def other_user(make_user):
    return make_user("outsider")


@pytest.fixture
def account(user):
    return user.accounts.get()


def jwt_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def api(user) -> APIClient:
    return jwt_client(user)


@pytest.fixture
def other_api(other_user) -> APIClient:
    return jwt_client(other_user)


@pytest.fixture
def staff_user(make_user):
    return make_user("desk", staff=True)


@pytest.fixture
def staff_api(staff_user) -> APIClient:
    return jwt_client(staff_user)


@pytest.fixture
def instrument_factory(db):
    from marketdata.models import Instrument

    def _make(symbol: str = "AAPL", **kwargs):
        return Instrument.objects.get_or_create(symbol=symbol, defaults=kwargs)[0]

    return _make


@pytest.fixture
def bars_factory(db, instrument_factory):
    """Create daily bars from a list of closes on consecutive NYSE sessions ending at ``end``."""
    from marketdata.calendar import sessions_between
    from marketdata.models import Bar

    def _make(symbol: str, closes: list, *, end: date = date(2026, 11, 20), volume: int = 1_000_000):
        instrument = instrument_factory(symbol)
        sessions = sessions_between(date(end.year - 20, 1, 1), end)[-len(closes):]
        rows = []
        for day, close in zip(sessions, closes):
            c = Decimal(str(close))
            rows.append(Bar(instrument=instrument, date=day, open=c, high=c, low=c, close=c, volume=volume))
        Bar.objects.bulk_create(rows)
        return instrument

    return _make


@pytest.fixture(autouse=True)
def _fresh_axes_and_cache(settings):
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def bot_api():
    """A local fake of the Telegram Bot API (tests/telegram_fake.py)."""
    from tests.telegram_fake import bot_api_serve

    yield from bot_api_serve()
