"""Celery tasks of the orders app (periodic job names fixed by ``alphaloop.schedule``). Thin: each calls a service."""

from __future__ import annotations

import logging

from celery import shared_task

from alphaloop.exceptions import ApplicationError
from orders.approvals import approvals_expire
from orders.cancellation import orders_expire
from orders.models import TradingPlan
from orders.plans import plan_execute, plans_expire
from orders.reconciliation import broker_reconcile_all
from orders.risk import breaker_check_all

logger = logging.getLogger(__name__)


@shared_task(name="orders.tasks.daily_loss_check_job")
def daily_loss_check_job() -> dict:
    """Every 5 minutes in session: trip the daily-loss breaker of accounts past the limit (once per session)."""
    return breaker_check_all()


@shared_task(name="orders.tasks.broker_reconcile_job")
def broker_reconcile_job() -> dict:
    """Every BROKER_RECONCILE_SECONDS in session (REAL mode): the books against the broker's."""
    return broker_reconcile_all()


@shared_task(name="orders.tasks.order_expiry_job")
def order_expiry_job() -> dict:
    """After each close: expire DAY orders of closed sessions, plans past valid_until, lapsed approvals."""
    return {"orders": orders_expire(), "plans": plans_expire(), "approvals": approvals_expire()}


# acks_late + reject_on_worker_lost: a delivery whose worker dies is delivered again. That is safe
# because plan_execute is idempotent: the order's client_order_id (plan-<id>) is derived from the
# plan and committed before the broker is called, so a second delivery finds the stored order and
# places nothing (tests/hardening/test_faults.py kills a worker between the two steps).
@shared_task(name="orders.tasks.plan_execute_task", acks_late=True, reject_on_worker_lost=True)
def plan_execute_task(plan_id: int, source: str = "PLAN") -> int | None:
    """Execute a trading plan from a queue (alert auto-execute, schedulers); returns the order id."""
    plan = TradingPlan.objects.filter(pk=plan_id).first()
    if plan is None:
        return None
    try:
        return plan_execute(plan=plan, source=source).pk
    except ApplicationError as exc:  # the plan expired or was cancelled meanwhile: an outcome, not a failure
        logger.warning("plan %s not executed: %s", plan_id, exc.message)
        return None
