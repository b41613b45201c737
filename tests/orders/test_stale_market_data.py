"""A stale live feed is a guard input: market orders wait for ticks, limit orders may rest."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.utils import timezone

from marketdata.pipeline import quote_store
from orders.models import Order

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


@pytest.fixture
def alpaca_feed(settings):
    settings.MARKET_FEED = "alpaca"
    settings.FEED_STALE_SECONDS = 30


def _feed_tick(symbol: str, price: str, at: dt.datetime) -> None:
    quote_store(symbol=symbol, price=D(price), timestamp=at, source="feed")


def test_a_market_order_is_refused_after_30_silent_seconds_and_passes_at_29(alpaca_feed, aapl, submit, session_time):
    now = timezone.now()
    _feed_tick("AAPL", "100", now - dt.timedelta(seconds=29))
    assert submit("BUY", 1).status == Order.FILLED
    _feed_tick("AAPL", "100", now - dt.timedelta(seconds=30))
    refused = submit("BUY", 1)
    assert (refused.status, refused.reject_code) == (Order.REJECTED, "stale_market_data")
    assert "No tick from the alpaca market feed for 30 s" in refused.reject_reason
    assert submit("BUY", 1, order_type="LIMIT", limit_price=D("99")).status == Order.ACCEPTED
    assert submit("BUY", 1, order_type="STOP", stop_price=D("101")).status == Order.ACCEPTED


def test_the_first_seconds_of_a_session_are_grace_then_no_tick_at_all_is_stale(alpaca_feed, aapl, submit, time_machine):
    opening = dt.datetime(2026, 11, 24, 14, 30, tzinfo=UTC)  # 09:30 ET
    time_machine.move_to(opening + dt.timedelta(seconds=29), tick=False)
    assert submit("BUY", 1).status == Order.FILLED
    time_machine.move_to(opening + dt.timedelta(seconds=30), tick=False)
    assert submit("BUY", 1).reject_code == "stale_market_data"


@pytest.mark.parametrize("feed", ["synthetic", "replay", "none"])
def test_simulated_feeds_are_never_stale(settings, feed, aapl, submit, session_time):
    settings.MARKET_FEED = feed
    assert submit("BUY", 1).status == Order.FILLED  # no feed tick at all: the simulation keeps today's behaviour


def test_outside_the_session_nothing_is_stale(alpaca_feed, aapl, submit, settings, time_machine):
    settings.TRADING_HOURS_ONLY = False
    time_machine.move_to(dt.datetime(2026, 11, 24, 23, 0, tzinfo=UTC), tick=False)  # 18:00 ET
    assert submit("BUY", 1).status == Order.FILLED
