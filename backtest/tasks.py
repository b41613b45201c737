from celery import shared_task
from django.conf import settings

from backtest.models import BacktestRun, WalkForwardWindow
from backtest.services import backtest_execute, backtest_runs_reap, walk_forward_runs_reap, walk_forward_window_execute

# Redeliveries of a run still marked RUNNING look again this many times, once per stale period.
TAKEOVER_ATTEMPTS = 3


# acks_late + reject_on_worker_lost: a run whose worker dies is redelivered; the claim in
# backtest_execute makes a second delivery a no-op once the run has finished. A redelivery that
# finds the run RUNNING cannot tell a dead worker (the usual reason for a redelivery) from a live
# one, so it retries once the heartbeat would be stale: then backtest_execute takes the run over
# from a dead worker, or finds it finished by a live one. The reaper fails what is left.
@shared_task(bind=True, name="backtest.tasks.backtest_run_task", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True, max_retries=TAKEOVER_ATTEMPTS)
def backtest_run_task(self, run_id: int) -> None:
    if backtest_execute(run_id=run_id) is not None or self.request.is_eager:
        return
    if self.request.retries < TAKEOVER_ATTEMPTS and BacktestRun.objects.filter(
            pk=run_id, status=BacktestRun.RUNNING).exists():
        raise self.retry(countdown=settings.BACKTEST_STALE_SECONDS + 1)


# The same delivery contract as a run: a window is claimed atomically, so a redelivery after it finished
# does nothing, and one whose worker died is taken over once its heartbeat is stale.
@shared_task(bind=True, name="backtest.tasks.walk_forward_window_task", acks_late=True, reject_on_worker_lost=True,
             ignore_result=True, max_retries=TAKEOVER_ATTEMPTS)
def walk_forward_window_task(self, window_id: int) -> None:
    if walk_forward_window_execute(window_id=window_id) is not None or self.request.is_eager:
        return
    if self.request.retries < TAKEOVER_ATTEMPTS and WalkForwardWindow.objects.filter(
            pk=window_id, status=BacktestRun.RUNNING).exists():
        raise self.retry(countdown=settings.BACKTEST_STALE_SECONDS + 1)


@shared_task(name="backtest.tasks.backtest_reaper_job", ignore_result=True)
def backtest_reaper_job() -> int:
    return backtest_runs_reap() + walk_forward_runs_reap()
