"""Periodic jobs of the orders app (names fixed by ``alphaloop.schedule``). Thin: each calls a service."""

from __future__ import annotations

from celery import shared_task

from orders.services import approvals_expire, breaker_check_all, orders_expire, plans_expire


@shared_task(name="orders.tasks.daily_loss_check_job")
def daily_loss_check_job() -> dict:
    """Every 5 minutes in session: trip the daily-loss breaker of accounts past the limit (once per session)."""
    return breaker_check_all()


@shared_task(name="orders.tasks.order_expiry_job")
def order_expiry_job() -> dict:
    """After each close: expire DAY orders of closed sessions, plans past valid_until, lapsed approvals."""
    return {"orders": orders_expire(), "plans": plans_expire(), "approvals": approvals_expire()}
