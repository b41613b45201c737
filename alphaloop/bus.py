"""The domain-event spine: producers publish events, subscribers registered in ``AppConfig.ready`` react.

A producer never knows who listens. ``publish`` hands an event (``alphaloop.events``) to every subscriber of
its type, in one of three ways chosen by the subscriber:

- ``in_transaction=True``: at once, inside the producer's transaction, for records that must commit or roll
  back with the producer's (a closed trade's journal draft is written with its attribution);
- the default: once the producer's transaction has committed (at once when there is none), so a rolled-back
  change never reaches a socket, a chat or another app;
- ``background=True``: after commit, by the Celery task ``alphaloop.tasks.event_deliver``, one task per event
  for all of its background subscribers (inline on the embedded default, on a worker in production).

Every subscriber runs isolated in a savepoint: one that raises is logged, its writes are undone, and the others
still run. Subscribers are idempotent where a retry or a replay could deliver twice. ``registry()`` lists, on
one screen, who publishes what and who reacts (the README's event table is made from it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from alphaloop.events import EVENT_TYPES, Event, event_decode, event_encode

logger = logging.getLogger(__name__)

Handler = Callable[[Any], None]


@dataclass(frozen=True)
class Subscription:
    event_type: type[Event]
    name: str
    handler: Handler
    in_transaction: bool = False
    background: bool = False

    @property
    def phase(self) -> str:
        return "in transaction" if self.in_transaction else "background" if self.background else "after commit"


_subscriptions: dict[type[Event], dict[str, Subscription]] = {}


def subscribe(
    event_type: type[Event], name: str, handler: Handler, *, in_transaction: bool = False, background: bool = False
) -> None:
    """Register (or replace, by name) a subscriber; apps call this from ``AppConfig.ready``."""
    if event_type not in EVENT_TYPES.values():
        raise TypeError(f"{event_type!r} is not an event type of alphaloop.events")
    if in_transaction and background:
        raise ValueError("a subscriber runs either in the producer's transaction or in the background")
    subscription = Subscription(event_type, name, handler, in_transaction, background)
    _subscriptions.setdefault(event_type, {})[name] = subscription


def unsubscribe(event_type: type[Event], name: str) -> None:
    _subscriptions.get(event_type, {}).pop(name, None)


def subscriptions(event_type: type[Event]) -> list[Subscription]:
    return list(_subscriptions.get(event_type, {}).values())


def publish(event: Event) -> None:
    """Deliver ``event`` to its subscribers, each in the phase it asked for."""
    subs = subscriptions(type(event))
    for sub in subs:
        if sub.in_transaction:
            _run(sub, event)
    after_commit = [sub for sub in subs if not sub.in_transaction and not sub.background]
    background = any(sub.background for sub in subs)
    if after_commit:
        transaction.on_commit(lambda: _run_all(after_commit, event), robust=True)
    if background:
        transaction.on_commit(lambda: _enqueue(event), robust=True)


def deliver_background(encoded: dict[str, Any]) -> dict[str, str]:
    """The task's half: run every background subscriber of the encoded event. Returns name -> "ok" | error."""
    event = event_decode(encoded)
    return _run_all([sub for sub in subscriptions(type(event)) if sub.background], event)


def _enqueue(event: Event) -> None:
    from alphaloop.tasks import event_deliver

    try:
        event_deliver.delay(event_encode(event))
    except Exception:  # the broker is down: the producer's change is committed; log, never raise into it
        logger.exception("could not enqueue the background delivery of %s", type(event).__name__)


def _run_all(subs: list[Subscription], event: Event) -> dict[str, str]:
    return {sub.name: _run(sub, event) for sub in subs}


def _run(sub: Subscription, event: Event) -> str:
    try:
        with transaction.atomic():
            sub.handler(event)
    except Exception as exc:  # isolate subscribers: a broken one never stops the others nor the producer
        logger.exception("subscriber %s failed on %s", sub.name, type(event).__name__)
        return f"error: {type(exc).__name__}: {exc}"
    return "ok"


def registry() -> list[dict[str, Any]]:
    """Every event type with its producers and its subscribers (name and phase), in declaration order."""
    return [
        {
            "event": name,
            "producers": list(event_type.producers),
            "subscribers": [(sub.name, sub.phase) for sub in subscriptions(event_type)],
        }
        for name, event_type in EVENT_TYPES.items()
    ]
