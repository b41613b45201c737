"""The guard under real concurrency (MariaDB): the account row lock makes the rate limit exact."""

from __future__ import annotations

import threading
from decimal import Decimal as D

import pytest
from django.db import close_old_connections, connection

from orders.models import Account, Fill, Order
from tests.waiting import CROSS_PROCESS_SECONDS

THREADS = 20


def _race(target, count: int) -> list:
    """Run ``target(i)`` in ``count`` threads released together; each thread uses its own connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=CROSS_PROCESS_SECONDS)
            results[i] = target(i)
        except Exception as exc:  # surfaced by the assertions below
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    close_old_connections()
    return results


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_submits_let_exactly_five_through(account, aapl, session_time):
    from orders.submission import order_submit

    assert connection.vendor == "mysql"
    orders = _race(lambda i: order_submit(account=account, symbol="AAPL", side="BUY", quantity=D("1"),
                                          client_order_id=f"race-{i}"), THREADS)

    assert not [o for o in orders if isinstance(o, Exception)], orders
    statuses = sorted(Order.objects.values_list("status", flat=True))
    assert statuses.count(Order.FILLED) == 5 and statuses.count(Order.REJECTED) == 15
    assert set(Order.objects.filter(status=Order.REJECTED).values_list("reject_code", flat=True)) == {"rate_limit"}
    assert Fill.objects.count() == 5
    # five fills of 1 share at 100.05 with the 1.00 minimum commission each, to the cent
    assert Account.objects.get(pk=account.pk).cash == D("100000.00") - 5 * (D("100.05") + D("1.00"))


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_submits_with_one_client_order_id_place_one_order(account, aapl, session_time):
    from orders.submission import order_submit

    orders = _race(lambda i: order_submit(account=account, symbol="AAPL", side="BUY", quantity=D("1"),
                                          client_order_id="same-key"), THREADS)

    assert not [o for o in orders if isinstance(o, Exception)], orders
    assert {o.pk for o in orders} == {Order.objects.get().pk}
    assert Fill.objects.count() == 1


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_never_overfill_a_resting_order(account, aapl, session_time, settings):
    from orders.brokers.paper import resting_order_match
    from orders.submission import order_submit

    settings.PAPER_MAX_FILL_QTY = D("3")
    order = order_submit(account=account, symbol="AAPL", side="BUY", quantity=D("10"), order_type="LIMIT", limit_price=D("99"))
    _race(lambda i: resting_order_match(order_id=order.pk, account_id=account.pk, price=D("98"), volume=0), 8)

    order.refresh_from_db()
    assert (order.status, order.filled_quantity) == (Order.FILLED, D("10"))
    assert sorted(Fill.objects.values_list("quantity", flat=True)) == [D("1"), D("3"), D("3"), D("3")]
