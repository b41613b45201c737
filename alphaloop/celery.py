"""The Celery app. Embedded default: tasks run eagerly (CELERY_TASK_ALWAYS_EAGER).

Every task derives from ``alphaloop.jobs.AlphaLoopTask`` (one run per periodic job and slot, a
503 when the broker is down). Broker transport options for Redis, from the environment because
this module loads before Django's settings:

- ``CELERY_VISIBILITY_TIMEOUT_SECONDS`` (default 3600): a message a worker took but never
  acknowledged (the worker was SIGKILLed mid-task) goes back to the queue this long after it was
  delivered. Only ``acks_late`` tasks are affected (backtest runs, plan execution: both
  idempotent). Keep it above the longest task's run time: a running task past it is delivered
  a second time (harmless for those two tasks, but wasted work).
- Abandoned messages are looked for every ``min(10, visibility timeout)`` seconds.
- Connect and socket timeouts keep a queueing call from hanging when Redis stops answering, and
  the Redis result backend retries a lost connection once instead of 20 times a second apart
  (measured: with Redis down, an order submit waited 20 s for its fill's attribution task).
"""

import os

from celery import Celery

from alphaloop.config import get_int

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alphaloop.settings")

VISIBILITY_TIMEOUT_SECONDS = get_int("CELERY_VISIBILITY_TIMEOUT_SECONDS", 3600, minimum=1)

app = Celery("alphaloop", task_cls="alphaloop.jobs:AlphaLoopTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.broker_transport_options = {
    "visibility_timeout": VISIBILITY_TIMEOUT_SECONDS,
    "unacked_restore_interval": min(10, VISIBILITY_TIMEOUT_SECONDS),
    "unacked_restore_throttle": 1,
    "socket_connect_timeout": 2,
    "socket_timeout": 10,
}
app.conf.result_backend_transport_options = {
    "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
}
app.autodiscover_tasks()
