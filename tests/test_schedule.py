"""The beat schedule of spec section 5 lives in django-celery-beat's database tables."""

import pytest
from django_celery_beat.models import PeriodicTask

from alphaloop.schedule import periodic_tasks_ensure


@pytest.mark.django_db
def test_every_periodic_job_is_scheduled_once_in_the_database(settings):
    periodic_tasks_ensure()
    periodic_tasks_ensure()  # idempotent
    jobs = {t.name: t for t in PeriodicTask.objects.select_related("crontab", "interval")}
    assert set(jobs) == {"equity_snapshot_job", "alert_check_job", "daily_loss_check_job", "order_expiry_job",
                         "signal_scan_job", "backtest_reaper_job", "live_event_prune_job", "bars_update_job",
                         "broker_reconcile_job"}
    snapshot = jobs["equity_snapshot_job"].crontab
    assert (snapshot.hour, snapshot.minute, snapshot.day_of_week, str(snapshot.timezone)) == (
        "16", "30", "1-5", "America/New_York")
    assert jobs["alert_check_job"].interval.every == settings.ALERT_CHECK_INTERVAL_SECONDS
    assert jobs["broker_reconcile_job"].interval.every == settings.BROKER_RECONCILE_SECONDS == 60
    loss = jobs["daily_loss_check_job"].crontab
    assert (loss.minute, loss.hour) == ("*/5", "9-16")
    bars = jobs["bars_update_job"].crontab
    assert (bars.minute, bars.hour, bars.day_of_week) == ("40", "16", "1-5")  # after the close, before the signal scan
    assert all(t.enabled for t in jobs.values())
