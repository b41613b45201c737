"""Account creation: every user trades through at least one (paper) account."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import transaction

from alphaloop.audit import audit_log_create
from orders.models import Account


@transaction.atomic
def account_create(*, user, initial_cash: Decimal | None = None, code: str | None = None, name: str = "") -> Account:
    cash = settings.PAPER_INITIAL_CASH if initial_cash is None else initial_cash
    account = Account.objects.create(
        user=user,
        code=code or f"PAPER-{user.username}",
        name=name or f"{user.username} paper account",
        cash=cash,
        initial_cash=cash,
        is_paper=settings.ORDER_MODE == "PAPER",
    )
    audit_log_create(action="account.create", resource=f"account:{account.pk}", user=user, payload={"cash": cash})
    return account


def account_get_or_create_default(*, user) -> Account:
    return Account.objects.filter(user=user).order_by("id").first() or account_create(user=user)
