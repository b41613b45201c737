"""The periodic jobs of spec section 5 (and the nightly live-event prune), stored in django-celery-beat's database schedule.

Idempotent: running it again updates the rows in place. Crontab times are in
America/New_York so that 16:30 stays 16:30 ET across daylight saving changes;
each job also checks the NYSE calendar itself (holidays, half days).
"""

from __future__ import annotations

import json

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


def _jobs() -> list[dict]:
    snapshot = settings.EQUITY_SNAPSHOT_TIME
    return [
        {
            "name": "equity_snapshot_job",
            "task": "equity.tasks.equity_snapshot_job",
            "crontab": {"minute": str(snapshot.minute), "hour": str(snapshot.hour), "day_of_week": "1-5"},
        },
        {
            "name": "alert_check_job",
            "task": "alerts.tasks.alert_check_job",
            "interval_seconds": settings.ALERT_CHECK_INTERVAL_SECONDS,
        },
        {
            "name": "daily_loss_check_job",
            "task": "orders.tasks.daily_loss_check_job",
            "crontab": {"minute": "*/5", "hour": "9-16", "day_of_week": "1-5"},
        },
        {
            "name": "broker_reconcile_job",
            "task": "orders.tasks.broker_reconcile_job",
            "interval_seconds": settings.BROKER_RECONCILE_SECONDS,
        },
        {
            "name": "order_expiry_job",
            "task": "orders.tasks.order_expiry_job",
            "crontab": {"minute": "5,35", "hour": "13,16,17", "day_of_week": "1-5"},
        },
        {
            "name": "backtest_reaper_job",
            "task": "backtest.tasks.backtest_reaper_job",
            "interval_seconds": 60,
        },
        {
            "name": "bars_update_job",
            "task": "marketdata.tasks.bars_update_job",
            "crontab": {"minute": "40", "hour": "16", "day_of_week": "1-5"},
        },
        {
            "name": "signal_scan_job",
            "task": "factors.tasks.signal_scan_job",
            "crontab": {"minute": "45", "hour": "16", "day_of_week": "1-5"},
        },
        {
            "name": "live_event_prune_job",
            "task": "notifications.tasks.live_event_prune_job",
            "crontab": {"minute": "15", "hour": "3", "day_of_week": "*"},
        },
    ]


def registered_task_names() -> set[str]:
    from alphaloop.celery import app

    app.loader.import_default_modules()
    return set(app.tasks.keys())


@transaction.atomic
def periodic_tasks_ensure() -> list[PeriodicTask]:
    """Create or update one PeriodicTask per job; a job naming an unknown task is a programming error."""
    known = registered_task_names()
    missing = [job["task"] for job in _jobs() if job["task"] not in known]
    if missing:
        raise LookupError(f"periodic jobs name unregistered tasks: {', '.join(missing)}")
    tasks = []
    for job in _jobs():
        defaults = {"task": job["task"], "kwargs": json.dumps({}), "enabled": True, "interval": None, "crontab": None}
        if "interval_seconds" in job:
            defaults["interval"], _ = IntervalSchedule.objects.get_or_create(
                every=job["interval_seconds"], period=IntervalSchedule.SECONDS
            )
        else:
            defaults["crontab"], _ = CrontabSchedule.objects.get_or_create(
                timezone=settings.MARKET_TIME_ZONE, day_of_month="*", month_of_year="*", **job["crontab"]
            )
        task, _ = PeriodicTask.objects.update_or_create(name=job["name"], defaults=defaults)
        tasks.append(task)
    return tasks
