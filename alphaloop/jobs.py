"""The base class of every Celery task of AlphaLoop: periodic jobs run once per slot, a dead broker is a 503.

Two things every task gets (``Celery(task_cls=...)`` in ``alphaloop.celery``):

* **One run per periodic job and slot.** A second ``celery beat`` started by mistake (or two
  web processes each embedding beat) sends every periodic job twice. Messages that beat sends
  carry django-celery-beat's ``periodic_task_name`` header; before such a message runs, the
  worker claims ``job:<name>:<slot>`` in the shared cache with ``cache.add`` (atomic on Redis).
  The slot is the current time divided by the job's period: its interval for interval
  schedules, one minute for crontab schedules (their resolution). The first delivery in a
  slot runs, later ones are skipped and logged. The jobs are idempotent anyway (they claim
  rows atomically); the lock keeps duplicates from doing the work twice. If the cache itself
  is down the job runs (fail open): a skipped snapshot or breaker check is worse than a
  duplicate that writes nothing. Calls that did not come from beat (``.delay()``, a direct
  call, a test) are never locked.
* **A clear error when the broker is down.** Queueing a task while the broker (Redis) is
  unreachable raises ``ServiceUnavailable`` with code ``queue_unavailable`` (a 503 through the
  API's exception handler) instead of kombu's ``OperationalError`` surfacing as a 500.

Nothing here imports Django or DRF at module level: Celery resolves ``task_cls`` while it boots,
before Django's app registry is ready.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from celery import Task
from kombu.exceptions import OperationalError as BrokerError

logger = logging.getLogger(__name__)

HEADER = "periodic_task_name"
CRONTAB_SLOT_SECONDS = 60
LOCK_GRACE_SECONDS = 60
QUEUE_UNAVAILABLE = "The task queue is unavailable (the Celery broker does not answer); nothing was queued. Try again shortly."


def periodic_job_name(request) -> str | None:
    """The django-celery-beat job that sent this task, from its message headers (None when not sent by beat)."""
    headers = getattr(request, "headers", None) or {}
    return headers.get(HEADER) or getattr(request, HEADER, None)


def job_slot_seconds(name: str) -> int:
    """The period of the job's slot: the interval of an interval schedule, else one minute."""
    from django_celery_beat.models import PeriodicTask

    job = PeriodicTask.objects.select_related("interval").filter(name=name).first()
    if job is not None and job.interval is not None:
        return max(1, math.ceil(job.interval.schedule.run_every.total_seconds()))
    return CRONTAB_SLOT_SECONDS


def job_slot_key(name: str, *, slot_seconds: int, now: datetime) -> str:
    return f"job:{name}:{slot_seconds}:{int(now.timestamp()) // slot_seconds}"


def job_run_claim(*, name: str, now: datetime) -> bool:
    """True for the first run of job ``name`` in the current slot; True too when the cache is down."""
    from django.core.cache import cache

    slot_seconds = job_slot_seconds(name)
    key = job_slot_key(name, slot_seconds=slot_seconds, now=now)
    try:
        claimed = bool(cache.add(key, now.isoformat(), timeout=slot_seconds + LOCK_GRACE_SECONDS))
    except Exception as exc:  # the cache (Redis) is down: run the idempotent job rather than skip it
        logger.warning("periodic job %s: lock unavailable (%s); running without it", name, exc)
        return True
    if claimed:
        logger.debug("periodic job %s: claimed %s", name, key)
    else:
        logger.info("periodic job %s: %s already taken; skipping this duplicate delivery", name, key)
    return claimed


class AlphaLoopTask(Task):
    """``task_cls`` of the AlphaLoop Celery app (see the module docstring)."""

    def __call__(self, *args, **kwargs):
        if self.request.called_directly:
            return super().__call__(*args, **kwargs)
        job = periodic_job_name(self.request)
        if job:
            from django.utils import timezone

            if not job_run_claim(name=job, now=timezone.now()):
                return None
        # The worker's tracer has pushed this delivery's request already: run the body under it.
        return self.run(*args, **kwargs)

    def apply_async(self, *args, **kwargs):
        try:
            return super().apply_async(*args, **kwargs)
        except BrokerError as exc:
            from alphaloop.exceptions import ServiceUnavailable

            logger.error("task %s not queued, the broker is unavailable: %s", self.name, exc)
            raise ServiceUnavailable(QUEUE_UNAVAILABLE, code="queue_unavailable") from exc


def queue_require() -> None:
    """Refuse with 503 ``queue_unavailable`` before anything is written when background work cannot be queued.

    For requests whose whole point is what runs in the background (a paper quote moves the alerts and the
    resting orders): the spine delivers after commit and never fails the producer, so the check comes first.
    """
    from django.conf import settings

    from alphaloop.exceptions import ServiceUnavailable
    from alphaloop.health import broker_state, redis_state

    redis = redis_state(settings.REDIS_URL) if settings.REDIS_URL else "none"
    if broker_state(redis) == "down":
        raise ServiceUnavailable(QUEUE_UNAVAILABLE, code="queue_unavailable")
