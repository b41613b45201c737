"""The event spine: delivery after commit, isolation of subscribers, background delivery, the registry."""

from __future__ import annotations

import importlib
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction

from alphaloop import bus
from alphaloop.events import EVENT_TYPES, ChatReplied, PriceTicks, SignalFired, Tick, event_decode, event_encode
from alphaloop.models import AuditLog
from alphaloop.tasks import event_deliver

ROOT = Path(__file__).resolve().parent.parent
AT = datetime.fromisoformat("2026-11-23T15:30:00+00:00")


@pytest.fixture
def recorded():
    """Subscribe test handlers by name; unsubscribed after the test."""
    names: list[tuple[type, str]] = []

    def _subscribe(event_type, name, handler, **kwargs):
        bus.subscribe(event_type, name, handler, **kwargs)
        names.append((event_type, name))

    yield _subscribe
    for event_type, name in names:
        bus.unsubscribe(event_type, name)


def _audit(note: str):
    def handler(event):
        AuditLog.objects.create(action="test.bus", resource=note, payload={})

    return handler


def _broken(event):
    AuditLog.objects.create(action="test.bus", resource="broken", payload={})
    raise RuntimeError("boom")


@pytest.mark.django_db(transaction=True)
def test_a_failing_subscriber_does_not_stop_the_others_and_its_writes_are_undone(recorded):
    recorded(ChatReplied, "test.first", _audit("first"))
    recorded(ChatReplied, "test.broken", _broken)
    recorded(ChatReplied, "test.last", _audit("last"))

    with transaction.atomic():
        bus.publish(ChatReplied(chat_id="1", text="hi"))

    assert sorted(AuditLog.objects.filter(action="test.bus").values_list("resource", flat=True)) == ["first", "last"]


@pytest.mark.django_db(transaction=True)
def test_nothing_is_delivered_when_the_producers_transaction_rolls_back(recorded):
    received = []
    recorded(ChatReplied, "test.after", received.append)
    recorded(ChatReplied, "test.background", received.append, background=True)
    recorded(ChatReplied, "test.inside", _audit("inside"), in_transaction=True)

    with pytest.raises(RuntimeError), transaction.atomic():
        bus.publish(ChatReplied(chat_id="1", text="never"))
        raise RuntimeError("the producer fails after publishing")

    assert received == [] and not AuditLog.objects.filter(action="test.bus").exists()


@pytest.mark.django_db(transaction=True)
def test_after_commit_subscribers_run_once_the_transaction_commits_in_transaction_ones_at_once(recorded):
    seen: list[str] = []
    recorded(ChatReplied, "test.after", lambda event: seen.append("after"))
    recorded(ChatReplied, "test.inside", lambda event: seen.append("inside"), in_transaction=True)

    with transaction.atomic():
        bus.publish(ChatReplied(chat_id="1", text="x"))
        assert seen == ["inside"]
    assert seen == ["inside", "after"]


@pytest.mark.django_db(transaction=True)
def test_background_subscribers_get_the_event_through_the_task_with_exact_values(recorded):
    received = []
    recorded(PriceTicks, "test.background", received.append, background=True)
    tick = Tick(symbol="AAPL", price=Decimal("187.123457"), timestamp=AT, source="test", volume=300)

    bus.publish(PriceTicks(ticks=(tick,), ts_event=AT))

    (event,) = received
    assert event.ticks == (tick,) and event.ts_event == AT


def test_an_event_survives_its_json_encoding():
    signal = SignalFired(
        signal_id=7,
        symbol="MSFT",
        direction="LONG",
        strength=Decimal("2.006"),
        score=Decimal("1.5"),
        as_of=date(2026, 12, 2),
        win_rate=None,
        sample_size=0,
        rr_ratio=Decimal("1.8"),
    )
    assert event_decode(event_encode(signal)) == signal


@pytest.mark.django_db
def test_the_background_task_reports_each_subscribers_outcome(recorded):
    recorded(ChatReplied, "test.ok", lambda event: None, background=True)
    recorded(ChatReplied, "test.broken", _broken, background=True)

    outcome = event_deliver(event_encode(ChatReplied(chat_id="1", text="x")))

    assert outcome == {"test.ok": "ok", "test.broken": "error: RuntimeError: boom"}


def test_the_registry_shows_every_event_with_its_producers_and_subscribers():
    rows = {row["event"]: row for row in bus.registry()}
    assert set(rows) == set(EVENT_TYPES)
    for name, row in rows.items():
        assert row["producers"], f"{name} names no producer"
        for module in row["producers"]:  # a real module that publishes the event by name
            assert name in Path(importlib.import_module(module).__file__).read_text(), (name, module)
        assert row["subscribers"], f"{name} has no subscriber"
    assert ("notifications.prices", "after commit") in rows["PriceTicks"]["subscribers"]
    assert ("alerts.engine", "background") in rows["PriceTicks"]["subscribers"]
    assert ("journal.draft", "in transaction") in rows["TradeClosed"]["subscribers"]


def test_no_domain_app_imports_notifications_to_publish():
    offenders = []
    for app in ("marketdata", "factors", "equity", "journal", "orders", "alerts"):
        for path in (ROOT / app).rglob("*.py"):
            if re.search(r"^\s*(from|import) notifications\b", path.read_text(), re.MULTILINE):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


# A price, quantity or money quantum (a percentage's or a score's precision is its own business).
QUANTUM = re.compile(r'^\w*(PRICE|CENT|MONEY|MICRO|QTY|QUANTITY|POSITIVE)\w* = Decimal\("[0-9.]+"\)', re.MULTILINE)
ZONE = re.compile(r'"America/New_York"')


def test_money_quanta_and_the_market_time_zone_are_defined_only_in_the_kernel():
    kernel = {"alphaloop/money.py", "alphaloop/settings.py"}
    offenders = []
    for app in (
        "alphaloop",
        "marketdata",
        "factors",
        "equity",
        "journal",
        "orders",
        "alerts",
        "backtest",
        "dashboard",
        "notifications",
    ):
        for path in (ROOT / app).rglob("*.py"):
            name = str(path.relative_to(ROOT))
            if name in kernel or "/migrations/" in name:
                continue
            text = path.read_text()
            offenders += [f"{name}: {m.group(0)}" for m in QUANTUM.finditer(text)]
            offenders += [f"{name}: the market time zone" for _ in ZONE.finditer(text)]
    assert offenders == []
