"""ORDER_MODE=REAL: refuses to start without a real adapter; orders of real accounts go to that adapter."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest

from alphaloop.exceptions import ServiceUnavailable
from orders.models import Order

ROOT = Path(__file__).resolve().parents[2]
VENUE = "tests.orders.venue_adapter.RecordingVenue"


def _start_django(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "JWT_SIGNING_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE",
                                                           "ORDER_MODE", "REAL_BROKER_ADAPTER"}}
    env.update({"ALPHALOOP_ENV_FILE": "/nonexistent", "DJANGO_SETTINGS_MODULE": "alphaloop.settings", "DEBUG": "true",
                **env_overrides})
    return subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("adapter", "message"),
    [
        ("", "ORDER_MODE=REAL needs REAL_BROKER_ADAPTER"),
        ("orders.brokers.paper.PaperBroker", "is a paper broker"),
        ("tests.orders.venue_adapter.NotABroker", "is not a subclass of orders.brokers.Broker"),
        ("brokers_that_do_not_exist.Venue", "cannot be imported"),
    ],
)
def test_real_mode_refuses_to_start_without_a_real_broker_adapter(adapter, message):
    result = _start_django({"ORDER_MODE": "REAL", "REAL_BROKER_ADAPTER": adapter})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_real_mode_starts_with_a_real_broker_adapter():
    result = _start_django({"ORDER_MODE": "REAL", "REAL_BROKER_ADAPTER": VENUE})
    assert result.returncode == 0, result.stderr


@pytest.fixture
def real_mode(settings, account):
    from tests.orders.venue_adapter import RecordingVenue

    settings.ORDER_MODE = "REAL"
    settings.REAL_BROKER_ADAPTER = VENUE
    account.is_paper = False
    account.save()
    RecordingVenue.submitted, RecordingVenue.cancelled = [], []
    RecordingVenue.refuse_with, RecordingVenue.unreachable = "", False
    yield RecordingVenue
    RecordingVenue.refuse_with, RecordingVenue.unreachable = "", False


@pytest.mark.django_db
def test_a_real_account_order_passes_the_guard_then_goes_to_the_venue_and_fills_when_it_reports(real_mode, aapl, submit):
    import datetime as dt

    from orders.cancellation import order_cancel
    from orders.fills import fill_record

    order = submit("BUY", 10, client_order_id="real-1")
    assert (order.status, order.broker_order_id) == (Order.ACCEPTED, "V-real-1")
    assert real_mode.submitted == ["real-1"]
    fill_record(order_id=order.pk, quantity=D("10"), price=D("100.01"), commission=D("0.35"),
                executed_at=dt.datetime(2026, 11, 24, 15, 0, 1, tzinfo=dt.timezone.utc), external_id="E1")
    order.refresh_from_db()
    assert (order.status, order.avg_fill_price) == (Order.FILLED, D("100.01"))

    refused_by_guard = submit("BUY", 500)
    assert refused_by_guard.reject_code == "max_order_pct" and real_mode.submitted == ["real-1"]  # never reached the venue

    resting = submit("BUY", 1, order_type="LIMIT", limit_price=D("90"), client_order_id="real-2")
    order_cancel(order=resting)
    assert real_mode.cancelled == ["V-real-2"]


@pytest.mark.django_db
def test_a_venue_refusal_is_stored_as_broker_rejected(real_mode, aapl, submit):
    real_mode.refuse_with = "Insufficient buying power at the venue"
    order = submit("BUY", 1)
    assert (order.status, order.reject_code, order.reject_reason) == (
        Order.REJECTED, "broker_rejected", "Insufficient buying power at the venue"
    )


@pytest.mark.django_db
def test_an_unreachable_venue_leaves_the_order_new_and_a_retry_never_sends_it_twice(real_mode, aapl, submit):
    real_mode.unreachable = True
    with pytest.raises(ServiceUnavailable) as caught:
        submit("BUY", 1, client_order_id="retry-me")
    assert caught.value.code == "broker_unavailable"
    stored = Order.objects.get(client_order_id="retry-me")
    assert stored.status == Order.NEW

    real_mode.unreachable = False
    again = submit("BUY", 1, client_order_id="retry-me")
    assert again.pk == stored.pk and real_mode.submitted == []


@pytest.mark.django_db
def test_ticks_never_fill_a_real_accounts_order_on_the_paper_broker(real_mode, aapl, submit):
    from marketdata.pipeline import tick_ingest

    order = submit("BUY", 1, order_type="LIMIT", limit_price=D("99"))
    tick_ingest(symbol="AAPL", price=D("90"), source="test")
    order.refresh_from_db()
    assert order.status == Order.ACCEPTED and not order.fills.exists()
