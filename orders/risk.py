"""The account's risk state: the daily-loss breaker and the trading state (normal, reduce-only, halted)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from alphaloop.audit import audit_log_create
from alphaloop.money import percent
from marketdata import calendar
from orders import publish
from orders.models import Account, Order
from orders.selectors import daily_pnl_pct


def breaker_trip(*, account: Account, now: datetime, equity: Decimal, previous: Decimal, pct: Decimal) -> bool:
    """Trip the breaker for the current session once (claimed by an update). True if this call tripped it."""
    session = calendar.current_session(now)
    claimed = (
        Account.objects.filter(pk=account.pk)
        .exclude(breaker_session=session)
        .exclude(breaker_override_session=session)
        .update(breaker_session=session, breaker_tripped_at=now, updated_at=now)
    )
    if not claimed:
        return False
    account.breaker_session, account.breaker_tripped_at = session, now
    limit = settings.MAX_DAILY_LOSS_PCT
    data = {
        "account_id": account.pk,
        "session": session.isoformat(),
        "equity": str(equity),
        "previous_close_equity": str(previous),
        "daily_pnl_pct": str(percent(pct)),
        "limit_pct": str(percent(limit)),
    }
    audit_log_create(action="account.breaker_trip", resource=f"account:{account.pk}", payload=data)
    publish.risk_warning_publish(
        account=account,
        title="Daily-loss breaker tripped: new orders refused",
        body=f"Equity {equity} is {pct:.2%} from the previous close {previous} (limit -{limit:.2%}). "
        "New orders are refused until the next session.",
        data=data,
    )
    return True


def breaker_check(*, account: Account, now: datetime | None = None) -> bool:
    """Trip the account's breaker if its daily loss reached the limit. True when this call tripped it."""
    now = now or timezone.now()
    session = calendar.current_session(now)
    if session in (account.breaker_session, account.breaker_override_session):
        return False
    equity, previous, pct = daily_pnl_pct(account, at=now)
    if pct is None or not (pct < 0 and pct <= -settings.MAX_DAILY_LOSS_PCT):
        return False
    with transaction.atomic():
        return breaker_trip(account=account, now=now, equity=equity, previous=previous, pct=pct)


def breaker_check_all(*, now: datetime | None = None) -> dict:
    """The ``daily_loss_check_job``: check every account while the regular session is open."""
    now = now or timezone.now()
    if not calendar.is_open(now):
        return {"checked": 0, "tripped": [], "skipped": "market closed"}
    accounts = list(Account.objects.all())
    tripped = [a.pk for a in accounts if breaker_check(account=a, now=now)]
    return {"checked": len(accounts), "tripped": tripped}


def breaker_reset(*, account: Account, user=None, ip_address: str | None = None) -> bool:
    """Admin action: lift a tripped breaker early; it does not trip again in this session. False if not tripped."""
    now = timezone.now()
    session = calendar.current_session(now)
    with transaction.atomic():
        claimed = Account.objects.filter(pk=account.pk, breaker_session__isnull=False).update(
            breaker_session=None, breaker_tripped_at=None, breaker_override_session=session, updated_at=now
        )
        if not claimed:
            return False
        audit_log_create(
            action="account.breaker_reset",
            resource=f"account:{account.pk}",
            user=user,
            ip_address=ip_address,
            payload={"session": session, "tripped_session": account.breaker_session},
        )
    account.refresh_from_db()
    return True


# --- trading state ------------------------------------------------------------------------------------

TRADING_STATE_EFFECTS = {
    Account.ACTIVE: "new orders are allowed again",
    Account.REDUCING: "only orders that shrink a position are allowed",
    Account.HALTED: "every new order is refused; cancels still work",
}


def account_trading_state_set(*, account: Account, state: str, user=None, ip_address: str | None = None) -> bool:
    """Switch the account to ACTIVE, REDUCING or HALTED (audited; the owner gets a risk warning).

    Takes the account row lock, so a state change never lands in the middle of a submit's guard
    check. Open orders keep working: cancel them separately. False when the account already was
    in ``state``.
    """
    if state not in TRADING_STATE_EFFECTS:
        raise ValidationError({"trading_state": [f"Must be one of {', '.join(TRADING_STATE_EFFECTS)}."]})
    with transaction.atomic():
        locked = Account.objects.select_for_update().get(pk=account.pk)
        previous = locked.trading_state
        if previous == state:
            return False
        locked.trading_state = state
        locked.save(update_fields=["trading_state", "updated_at"])
        open_count = Order.objects.filter(account=locked, status__in=Order.OPEN_STATUSES).count()
        data = {"account_id": locked.pk, "from": previous, "to": state, "open_orders": open_count}
        audit_log_create(
            action="account.trading_state",
            resource=f"account:{locked.pk}",
            user=user,
            ip_address=ip_address,
            payload=data,
        )
        publish.risk_warning_publish(
            account=locked,
            title=f"Account {locked.code} is now {state}",
            body=f"Trading state {previous} -> {state}: {TRADING_STATE_EFFECTS[state]}. "
            f"{open_count} open order(s) keep working until cancelled.",
            data=data,
        )
    account.trading_state = state
    return True
