"""Telegram's /approve and /reject replies (alerts.approvals), through the same approval_decide as the dashboard."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from alerts.approvals import approval_reply
from orders.models import ApprovalRequest, Order, TradingPlan

pytestmark = pytest.mark.django_db
UTC = dt.timezone.utc


def test_approve_before_the_open_replies_with_the_refusal_and_the_request_stays_pending(account, aapl, time_machine,
                                                                                    settings):
    from marketdata.pipeline import quote_store
    from orders.approvals import approval_request_create

    settings.APPROVAL_TTL_MINUTES = 240
    time_machine.move_to(dt.datetime(2026, 11, 24, 13, 0, tzinfo=UTC), tick=False)  # Tuesday 08:00 ET
    quote_store(symbol="AAPL", price=Decimal("190"))
    plan = TradingPlan.objects.create(account=account, symbol="AAPL", direction="LONG", quantity=Decimal("5"),
                                      entry_price=Decimal("190"), order_type="MARKET")
    approval = approval_request_create(plan=plan, source="alert:1", reason="test")

    reply = approval_reply(approval.token, approve=True)

    approval.refresh_from_db()
    order = Order.objects.get()
    assert approval.status == ApprovalRequest.PENDING and order.status == Order.REJECTED
    assert reply.startswith(f"{approval.token}: not executed yet: order #{order.pk} was refused (outside_trading_hours)")
    assert reply.endswith("The request stays pending until 2026-11-24 12:00 ET: /approve it again once it can execute.")
