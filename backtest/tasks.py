from celery import shared_task

from backtest.services import backtest_execute, backtest_runs_reap


# acks_late + reject_on_worker_lost: a run whose worker dies is redelivered; the claim in
# backtest_execute makes a second delivery a no-op once the run has finished.
@shared_task(name="backtest.tasks.backtest_run_task", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def backtest_run_task(run_id: int) -> None:
    backtest_execute(run_id=run_id)


@shared_task(name="backtest.tasks.backtest_reaper_job", ignore_result=True)
def backtest_reaper_job() -> int:
    return backtest_runs_reap()
