"""The one place that scopes data to the requesting user.

Every queryset an API or page shows goes through ``owned_by``; a row that belongs
to someone else is simply not there (404), never visible.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404


def owned_by(queryset: QuerySet, user, *, owner_path: str = "account__user") -> QuerySet:
    if user is None or not user.is_authenticated:
        return queryset.none()
    return queryset.filter(**{owner_path: user})


def user_accounts(user) -> QuerySet:
    from orders.models import Account

    return owned_by(Account.objects.all(), user, owner_path="user")


def user_account(user, account_id: int | str | None = None):
    """The user's account by id, or their first (default) account, made on first use if they have
    none; 404 when it is not theirs."""
    accounts = user_accounts(user)
    if account_id not in (None, ""):
        try:
            return accounts.get(pk=int(account_id))
        except (ValueError, TypeError, accounts.model.DoesNotExist):
            raise Http404("No such account.") from None
    account = accounts.order_by("id").first()
    if account is None:
        if not user.is_authenticated:
            raise Http404("No such account.")
        from orders.accounts import account_get_or_create_default

        # A user with no account (one from before accounts came with every user) gets one on first use.
        account = account_get_or_create_default(user=user)
    return account


class OwnedQuerysetMixin:
    """DRF view mixin: ``get_queryset`` filtered to the request user's rows."""

    owner_path = "account__user"

    def get_queryset(self):
        return owned_by(super().get_queryset(), self.request.user, owner_path=self.owner_path)
