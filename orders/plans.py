"""Trading plans: create, edit, delete, execute (through ``order_submit``) and expire."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.exceptions import ValidationError

from alphaloop.audit import audit_log_create
from alphaloop.exceptions import ApplicationError
from marketdata.models import Instrument
from orders.models import Account, Order, TradingPlan
from orders.submission import ORDER_TYPES, number_field, order_submit

PLAN_EDITABLE = (
    "symbol",
    "direction",
    "entry_price",
    "stop_price",
    "target_price",
    "quantity",
    "order_type",
    "status",
    "valid_until",
    "strategy_tag",
    "factor_tag",
    "notes",
)
PLAN_USER_STATUSES = (TradingPlan.PENDING, TradingPlan.ACTIVE, TradingPlan.CANCELLED)


def _plan_validate(values: dict, *, now: datetime, creating: bool) -> None:
    errors: dict[str, list[str]] = {}
    symbol = values.get("symbol") or ""
    if not Instrument.objects.filter(symbol=symbol, active=True).exists():
        errors["symbol"] = [f"Unknown or inactive symbol {symbol}."]
    if values.get("direction") not in (TradingPlan.LONG, TradingPlan.SHORT):
        errors["direction"] = ["Must be LONG or SHORT."]
    if values.get("order_type") not in ORDER_TYPES:
        errors["order_type"] = [f"Must be one of {', '.join(sorted(ORDER_TYPES))}."]
    if values.get("status") not in PLAN_USER_STATUSES:
        errors["status"] = ["A plan can be set to PENDING, ACTIVE or CANCELLED."]
    for name, required in (("entry_price", True), ("quantity", True), ("stop_price", False), ("target_price", False)):
        number = number_field(values.get(name), name, errors, required=required)
        if name not in errors:
            values[name] = number
    entry, stop, target = values.get("entry_price"), values.get("stop_price"), values.get("target_price")
    if entry is not None and not errors.get("direction"):
        long = values["direction"] == TradingPlan.LONG
        if stop is not None and "stop_price" not in errors and (stop >= entry if long else stop <= entry):
            errors["stop_price"] = [
                "A long plan's stop is below its entry." if long else "A short plan's stop is above its entry."
            ]
        if target is not None and "target_price" not in errors and (target <= entry if long else target >= entry):
            errors["target_price"] = [
                "A long plan's target is above its entry." if long else "A short plan's target is below its entry."
            ]
    valid_until = values.get("valid_until")
    if creating and valid_until is not None and valid_until <= now:
        errors["valid_until"] = ["Must be in the future."]
    if errors:
        raise ValidationError(errors)


def plan_create(
    *,
    account: Account,
    symbol: str,
    direction: str,
    entry_price: Decimal,
    quantity: Decimal,
    stop_price: Decimal | None = None,
    target_price: Decimal | None = None,
    order_type: str = Order.LIMIT,
    status: str = TradingPlan.PENDING,
    valid_until: datetime | None = None,
    strategy_tag: str = "",
    factor_tag: str = "",
    notes: str = "",
    signal=None,
    user=None,
    ip_address: str | None = None,
) -> TradingPlan:
    now = timezone.now()
    values = {
        "symbol": (symbol or "").strip().upper(),
        "direction": direction,
        "entry_price": entry_price,
        "stop_price": stop_price,
        "target_price": target_price,
        "quantity": quantity,
        "order_type": order_type,
        "status": status,
        "valid_until": valid_until,
        "strategy_tag": strategy_tag or "",
        "factor_tag": factor_tag or "",
        "notes": notes or "",
    }
    _plan_validate(values, now=now, creating=True)
    with transaction.atomic():
        plan = TradingPlan.objects.create(account=account, signal=signal, **values)
        audit_log_create(
            action="plan.create", resource=f"plan:{plan.pk}", user=user, ip_address=ip_address, payload=values
        )
    return plan


def plan_update(*, plan: TradingPlan, data: dict, user=None, ip_address: str | None = None) -> TradingPlan:
    """Edit a PENDING/ACTIVE plan (a user may also cancel it). 409 for executed, cancelled or expired plans."""
    now = timezone.now()
    with transaction.atomic():
        plan = TradingPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.status not in (TradingPlan.PENDING, TradingPlan.ACTIVE):
            raise ApplicationError(
                f"The plan is {plan.status} and can no longer be changed.",
                code="plan_not_editable",
                status_code=status.HTTP_409_CONFLICT,
            )
        changes = {k: v for k, v in data.items() if k in PLAN_EDITABLE}
        if "symbol" in changes:
            changes["symbol"] = (changes["symbol"] or "").strip().upper()
        values = {name: getattr(plan, name) for name in PLAN_EDITABLE} | changes
        _plan_validate(values, now=now, creating="valid_until" in changes)
        for name in changes:
            setattr(plan, name, values[name])
        plan.save()
        audit_log_create(
            action="plan.update",
            resource=f"plan:{plan.pk}",
            user=user,
            ip_address=ip_address,
            payload={k: values[k] for k in changes},
        )
    return plan


def plan_delete(*, plan: TradingPlan, user=None, ip_address: str | None = None) -> None:
    """Delete a plan that never sent an order; a plan with orders is kept for the record (cancel it)."""
    if plan.orders.exists():
        raise ApplicationError(
            "The plan has orders and is kept for the record; set its status to CANCELLED instead.",
            code="plan_has_orders",
            status_code=status.HTTP_409_CONFLICT,
        )
    with transaction.atomic():
        payload = {"symbol": plan.symbol, "direction": plan.direction, "status": plan.status}
        pk = plan.pk
        plan.delete()
        audit_log_create(action="plan.delete", resource=f"plan:{pk}", user=user, ip_address=ip_address, payload=payload)


def _plan_order_prices(plan: TradingPlan) -> tuple[Decimal | None, Decimal | None]:
    """(limit, stop) of the order a plan sends: its entry price is the limit and/or the stop trigger."""
    if plan.order_type == Order.LIMIT:
        return plan.entry_price, None
    if plan.order_type == Order.STOP:
        return None, plan.entry_price
    if plan.order_type == Order.STOP_LIMIT:
        return plan.entry_price, plan.entry_price
    return None, None


def plan_execute(*, plan: TradingPlan, source: str = "PLAN", user=None, ip_address: str | None = None) -> Order:
    """Send the plan's order through ``order_submit``; executing twice places one order.

    The client_order_id is ``plan-<id>``; after a refusal the next attempt uses ``plan-<id>-<n>``
    (n = refusals so far), so a plan refused outside trading hours can be executed later, while two
    concurrent executions still share one id. The plan becomes EXECUTED once its order is accepted.
    """
    now = timezone.now()
    plan = TradingPlan.objects.select_related("account").get(pk=plan.pk)
    live = plan.orders.exclude(status=Order.REJECTED).order_by("id").first()
    if live is not None:
        _plan_mark_executed(plan, live, now=now, user=user, ip_address=ip_address)
        return live
    if plan.status in (TradingPlan.PENDING, TradingPlan.ACTIVE) and plan.valid_until and plan.valid_until <= now:
        _plan_expire(plan.pk, now=now)
        plan.refresh_from_db()
    if plan.status not in (TradingPlan.PENDING, TradingPlan.ACTIVE):
        raise ApplicationError(
            f"The plan is {plan.status} and cannot be executed.",
            code="plan_not_executable",
            status_code=status.HTTP_409_CONFLICT,
        )
    refusals = plan.orders.filter(status=Order.REJECTED).count()
    limit, stop = _plan_order_prices(plan)
    order = order_submit(
        account=plan.account,
        symbol=plan.symbol,
        side=Order.BUY if plan.direction == TradingPlan.LONG else Order.SELL,
        quantity=plan.quantity,
        order_type=plan.order_type,
        time_in_force=Order.DAY,
        limit_price=limit,
        stop_price=stop,
        client_order_id=f"plan-{plan.pk}" if refusals == 0 else f"plan-{plan.pk}-{refusals}",
        plan=plan,
        source=source,
        strategy_tag=plan.strategy_tag,
        factor_tag=plan.factor_tag,
        user=user,
        ip_address=ip_address,
    )
    _plan_mark_executed(plan, order, now=now, user=user, ip_address=ip_address)
    return order


def _plan_mark_executed(
    plan: TradingPlan, order: Order, *, now: datetime, user=None, ip_address: str | None = None
) -> None:
    if order.status in (Order.NEW, Order.REJECTED):
        return
    with transaction.atomic():
        claimed = TradingPlan.objects.filter(pk=plan.pk, status__in=[TradingPlan.PENDING, TradingPlan.ACTIVE]).update(
            status=TradingPlan.EXECUTED, executed_at=now, updated_at=now
        )
        if claimed:
            audit_log_create(
                action="plan.execute",
                resource=f"plan:{plan.pk}",
                user=user,
                ip_address=ip_address,
                payload={"order_id": order.pk, "order_status": order.status},
            )
    plan.refresh_from_db()


def plans_expire(*, now: datetime | None = None) -> list[int]:
    """PENDING/ACTIVE plans past ``valid_until`` become EXPIRED (claimed once each)."""
    now = now or timezone.now()
    due = TradingPlan.objects.filter(status__in=[TradingPlan.PENDING, TradingPlan.ACTIVE], valid_until__lte=now)
    return [plan_id for plan_id in due.values_list("id", flat=True) if _plan_expire(plan_id, now=now)]


def _plan_expire(plan_id: int, *, now: datetime) -> bool:
    with transaction.atomic():
        claimed = TradingPlan.objects.filter(pk=plan_id, status__in=[TradingPlan.PENDING, TradingPlan.ACTIVE]).update(
            status=TradingPlan.EXPIRED, updated_at=now
        )
        if claimed:
            audit_log_create(action="plan.expire", resource=f"plan:{plan_id}")
    return bool(claimed)
