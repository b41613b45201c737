"""Account creation: every user trades through at least one (paper) account.

A user gets their paper account when they are created (``account_on_user_created``, the user
model's post_save: the admin, ``createsuperuser``, a script), and on first use if they have none
(``alphaloop.scoping.user_account``, e.g. a user from before this rule); ``bootstrap`` uses the
same service. Each creation writes an ``account.create`` audit row.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction

from alphaloop.audit import audit_log_create
from orders.models import Account


@transaction.atomic
def account_create(*, user, initial_cash: Decimal | None = None, code: str | None = None, name: str = "") -> Account:
    cash = settings.PAPER_INITIAL_CASH if initial_cash is None else initial_cash
    account = Account.objects.create(
        user=user,
        code=code or _default_code(user),
        name=name or f"{user.username} paper account",
        cash=cash,
        initial_cash=cash,
        is_paper=settings.ORDER_MODE == "PAPER",
    )
    audit_log_create(action="account.create", resource=f"account:{account.pk}", user=user, payload={"cash": cash})
    return account


def _default_code(user) -> str:
    """PAPER-<username>; PAPER-user-<id> when that is longer than the column or another account holds it."""
    code = f"PAPER-{user.username}"
    if len(code) <= Account._meta.get_field("code").max_length and not Account.objects.filter(code=code).exists():
        return code
    return f"PAPER-user-{user.pk}"


def account_get_or_create_default(*, user) -> Account:
    """The user's first account, created (paper, PAPER_INITIAL_CASH, audited) when they have none."""
    account = Account.objects.filter(user=user).order_by("id").first()
    if account is not None:
        return account
    try:
        return account_create(user=user)
    except IntegrityError:  # a simultaneous first use created it (same code): use that one
        account = Account.objects.filter(user=user).order_by("id").first()
        if account is None:
            raise
        return account


def account_on_user_created(sender, instance, created: bool, raw: bool = False, **kwargs) -> None:
    """post_save of the user model: a new user gets their paper account (rows loaded raw from a fixture do not)."""
    if created and not raw:
        account_get_or_create_default(user=instance)
