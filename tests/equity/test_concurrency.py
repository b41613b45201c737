"""Concurrent workers on MariaDB: one fill recorded by several workers at once is matched once."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from equity.models import EquitySnapshot, TradePnlAttribution
from equity.services import attribution_record_fill, create_daily_snapshot
from journal.models import TradeJournal

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _race(target, workers: int = 4) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def run() -> None:
        try:
            barrier.wait()
            target()
        except BaseException as exc:  # collected and asserted on by the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_a_fill_recorded_by_four_workers_at_once_is_matched_once(account, fill_factory):
    at = dt.datetime(2026, 3, 2, 15, tzinfo=dt.UTC)
    attribution_record_fill(fill=fill_factory(account, "XYZ", "BUY", 10, "10", at))
    sell = fill_factory(account, "XYZ", "SELL", 10, "12", at + dt.timedelta(days=1))

    errors = _race(lambda: attribution_record_fill(fill=sell))

    assert errors == []
    assert TradePnlAttribution.objects.filter(account=account).count() == 1
    assert TradeJournal.objects.filter(account=account).count() == 1


def test_the_same_snapshot_taken_by_four_workers_at_once_is_one_row(account):
    errors = _race(lambda: create_daily_snapshot(account=account, date=dt.date(2026, 3, 5)))

    assert errors == []
    assert EquitySnapshot.objects.filter(account=account).count() == 1
