from celery import shared_task
from django.utils import timezone

from factors.services import signals_run
from marketdata import calendar


@shared_task(name="factors.tasks.signal_scan_job", ignore_result=True)
def signal_scan_job() -> int:
    """After each session's close: scan the universe (idempotent per session)."""
    now = timezone.now()
    session = calendar.last_closed_session(now)
    if session != timezone.localtime(now, calendar.market_tz()).date():
        return 0  # not a session day, or before today's close
    return len(signals_run(as_of=session))
