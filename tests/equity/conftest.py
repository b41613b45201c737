"""Fixtures of the equity tests: orders and fills written straight with the ORM."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

import pytest

_ids = itertools.count(1)


@pytest.fixture
def fill_factory(db):
    """``fill_factory(account, "AAPL", "BUY", 100, "10.5", at, commission=..., strategy_tag=..., plan=...)``."""
    from orders.models import Fill, Order

    def _make(account, symbol: str, side: str, quantity, price, at: dt.datetime, *, commission="0",
              strategy_tag: str = "", factor_tag: str = "", plan=None) -> Fill:
        quantity, price = Decimal(str(quantity)), Decimal(str(price))
        order = Order.objects.create(
            account=account, plan=plan, client_order_id=f"test-{next(_ids)}", symbol=symbol, side=side,
            quantity=quantity, status=Order.FILLED, filled_quantity=quantity, avg_fill_price=price,
            strategy_tag=strategy_tag, factor_tag=factor_tag, filled_at=at,
        )
        return Fill.objects.create(
            order=order, account=account, symbol=symbol, side=side, quantity=quantity, price=price,
            commission=Decimal(str(commission)), executed_at=at,
        )

    return _make


@pytest.fixture
def fresh_api():
    """``fresh_api(user)``: a JWT client whose token is issued now (inside a ``time_machine`` travel)."""
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    def _make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
        return client

    return _make
