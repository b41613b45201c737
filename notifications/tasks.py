from celery import shared_task

from notifications.services import live_events_prune, notification_deliver


@shared_task(name="notifications.tasks.notification_deliver", ignore_result=True)
def notification_deliver_task(log_id: int) -> None:
    """Deliver one PENDING Telegram / e-mail notification (queued after the caller's commit)."""
    notification_deliver(log_id=log_id)


@shared_task(name="notifications.tasks.live_event_prune_job", ignore_result=True)
def live_event_prune_job() -> int:
    return live_events_prune()
