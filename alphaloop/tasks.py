from celery import shared_task

from alphaloop import bus


@shared_task(name="alphaloop.tasks.event_deliver", ignore_result=True)
def event_deliver(encoded: dict) -> dict[str, str]:
    """Run the background subscribers of one published event (``alphaloop.bus``)."""
    return bus.deliver_background(encoded)
