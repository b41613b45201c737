from celery import shared_task

from marketdata.pipeline import tick_from_message, tick_run_listeners


@shared_task(name="marketdata.tasks.tick_dispatch", ignore_result=True)
def tick_dispatch(messages: list[dict]) -> list[dict[str, str]]:
    """Run the tick listeners on each tick of a batch, in order."""
    return [tick_run_listeners(tick_from_message(message)) for message in messages]
