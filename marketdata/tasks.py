from celery import shared_task

from marketdata.pipeline import tick_from_message, tick_run_listeners


@shared_task(name="marketdata.tasks.tick_dispatch", ignore_result=True)
def tick_dispatch(message: dict) -> dict[str, str]:
    return tick_run_listeners(tick_from_message(message))
