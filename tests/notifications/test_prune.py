"""The nightly prune of live events: old ones go, recent ones and the newest stay, ids keep rising."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest

from alphaloop.models import AuditLog
from notifications.events import event_deliver
from notifications.models import LiveEvent
from notifications.services import live_events_prune
from notifications.tasks import live_event_prune_job

NOW = datetime(2026, 11, 24, 8, 15, tzinfo=dt_timezone.utc)


def _event(user, age_days: float) -> LiveEvent:
    row, _ = event_deliver(user_id=user.pk, channel="order_update", event="filled", data={"age": age_days})
    LiveEvent.objects.filter(pk=row.pk).update(timestamp=NOW - timedelta(days=age_days))
    return row


@pytest.mark.django_db
def test_events_older_than_the_retention_go_and_an_audit_row_says_how_many(user, settings):
    settings.LIVE_EVENT_RETENTION_DAYS = 30
    old = [_event(user, 45), _event(user, 31)]
    kept = [_event(user, 29), _event(user, 1)]

    assert live_events_prune(now=NOW) == 2

    assert list(LiveEvent.objects.values_list("pk", flat=True)) == [e.pk for e in kept]
    audit = AuditLog.objects.get(action="live_events.prune")
    assert audit.payload["deleted"] == 2 and old[0].pk not in LiveEvent.objects.values_list("pk", flat=True)
    assert live_events_prune(now=NOW) == 0 and AuditLog.objects.filter(action="live_events.prune").count() == 1


@pytest.mark.django_db
def test_the_newest_event_stays_even_when_old_so_ids_keep_rising(user, settings):
    settings.LIVE_EVENT_RETENTION_DAYS = 7
    events = [_event(user, 40), _event(user, 20), _event(user, 10)]

    assert live_events_prune(now=NOW) == 2

    assert list(LiveEvent.objects.values_list("pk", flat=True)) == [events[-1].pk]
    later, _ = event_deliver(user_id=user.pk, channel="order_update", event="filled", data={})
    assert later.pk > events[-1].pk


@pytest.mark.django_db
def test_the_nightly_job_prunes_with_the_current_clock(user, settings):
    settings.LIVE_EVENT_RETENTION_DAYS = 30
    _event(user, 400)
    _event(user, 0)
    assert live_event_prune_job() == 1
