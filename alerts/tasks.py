from celery import shared_task

from alerts.services import alerts_check


@shared_task(name="alerts.tasks.alert_check_job", ignore_result=True)
def alert_check_job() -> dict[str, int]:
    """Every ALERT_CHECK_INTERVAL_SECONDS: expire due alerts, evaluate the rest on the latest quotes."""
    return alerts_check()
