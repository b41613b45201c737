"""Thin Celery adapters over ``equity.services``."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError

from equity import services
from orders.models import Account, Fill


@shared_task(name="equity.tasks.equity_snapshot_job")
def equity_snapshot_job() -> dict:
    """Spec 5: 16:30 ET on NYSE sessions, every account; idempotent."""
    return services.equity_snapshot_job_run()


@shared_task(
    name="equity.tasks.attribution_record_fill",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    max_retries=3,
)
def attribution_record_fill(fill_id: int) -> list[int]:
    fill = Fill.objects.select_related("account").filter(pk=fill_id).first()
    if fill is None:
        return []
    return [row.pk for row in services.attribution_record_fill(fill=fill)]


@shared_task(name="equity.tasks.equity_backfill_since")
def equity_backfill_since(account_id: int, start: str) -> int:
    """Rewrite an account's snapshots from ``start`` (ISO date) through the last closed session."""
    account = Account.objects.filter(pk=account_id).first()
    if account is None:
        return 0
    return len(services.equity_snapshots_backfill_since(account=account, start=dt.date.fromisoformat(start)))
