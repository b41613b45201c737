"""One fill per broker execution and account, held by the database (``uk_fill_account_execution``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from orders.models import Fill, Order

AT = dt.datetime(2024, 3, 11, 14, 0, tzinfo=dt.timezone.utc)


def _fill(account, order, external_id: str) -> Fill:
    return Fill.objects.create(order=order, account=account, symbol="AAPL", side="BUY", quantity=D("1"), price=D("100"),
                               external_id=external_id, executed_at=AT)


@pytest.fixture
def order(account):
    return Order.objects.create(account=account, client_order_id="o-1", symbol="AAPL", side="BUY", quantity=D("10"),
                                status=Order.ACCEPTED)


@pytest.mark.django_db
def test_an_execution_id_is_booked_once_per_account(account, order, other_user):
    _fill(account, order, "EX-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        _fill(account, order, "EX-1")

    other_account = other_user.accounts.get()
    other_order = Order.objects.create(account=other_account, client_order_id="o-1", symbol="AAPL", side="BUY",
                                       quantity=D("10"), status=Order.ACCEPTED)
    _fill(other_account, other_order, "EX-1")  # another account's execution ids are its own
    assert Fill.objects.filter(external_id="EX-1").count() == 2


@pytest.mark.django_db
def test_fills_without_an_execution_id_are_not_constrained(account, order):
    _fill(account, order, "")
    _fill(account, order, "")

    assert list(Fill.objects.values_list("external_id", "execution_key")) == [("", None), ("", None)]


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_existing_fills_and_sets_apart_an_execution_booked_twice():
    executor = MigrationExecutor(connection)
    executor.migrate([("orders", "0004_approval_refusal")])
    apps = executor.loader.project_state([("orders", "0004_approval_refusal")]).apps
    user = apps.get_model("auth", "User").objects.create(username="legacy")
    account = apps.get_model("orders", "Account").objects.create(user_id=user.pk, code="LEGACY")
    order = apps.get_model("orders", "Order").objects.create(account=account, client_order_id="o", symbol="AAPL",
                                                             side="BUY", quantity=D("3"))
    OldFill = apps.get_model("orders", "Fill")
    rows = [OldFill.objects.create(order=order, account=account, symbol="AAPL", side="BUY", quantity=D("1"),
                                   price=D("100"), external_id=external_id, executed_at=AT)
            for external_id in ("", "", "EX-9", "EX-9")]

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert list(Fill.objects.order_by("id").values_list("id", "external_id", "execution_key")) == [
        (rows[0].pk, "", None), (rows[1].pk, "", None), (rows[2].pk, "EX-9", "EX-9"),
        (rows[3].pk, f"EX-9~dup{rows[3].pk}", f"EX-9~dup{rows[3].pk}"),
    ]
