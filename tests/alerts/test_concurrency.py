"""Exactly-once firing when several workers evaluate the same alert at the same moment (MariaDB)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from alerts.models import AlertHistory, PriceAlert
from alerts.services import alert_create, alert_trigger, alerts_check
from marketdata.pipeline import quote_store
from notifications.models import NotificationLog
from tests.waiting import CROSS_PROCESS_SECONDS

from .conftest import MONDAY_1030_ET

WORKERS = 8


def run_together(target) -> list:
    """Start WORKERS threads released by one barrier; each returns target()'s result."""
    barrier = threading.Barrier(WORKERS)
    results, errors = [], []

    def work():
        try:
            barrier.wait(timeout=CROSS_PROCESS_SECONDS)
            results.append(target())
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=CROSS_PROCESS_SECONDS)
    assert not errors, errors
    assert len(results) == WORKERS
    return results


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_triggers_of_one_alert_fire_it_exactly_once(account, aapl):
    alert = alert_create(account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal("190"))

    def trigger():
        stale_copy = PriceAlert.objects.get(pk=alert.pk)  # every worker read it while ACTIVE
        return alert_trigger(alert=stale_copy, price=Decimal("191"), at=MONDAY_1030_ET)

    results = run_together(trigger)

    assert sum(r is not None for r in results) == 1
    assert AlertHistory.objects.count() == 1
    assert NotificationLog.objects.filter(event_type="price_alert").count() == 2  # websocket + desktop, once


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_backstop_jobs_fire_each_alert_once(account, aapl):
    alerts = [
        alert_create(account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal(level))
        for level in ("150", "160", "170")
    ]
    quote_store(symbol="AAPL", price=Decimal("200"), timestamp=MONDAY_1030_ET)

    results = run_together(lambda: alerts_check()["fired"])

    assert sum(results) == 3
    assert sorted(AlertHistory.objects.values_list("alert_id", flat=True)) == sorted(a.pk for a in alerts)
    assert NotificationLog.objects.filter(event_type="price_alert").count() == 6
