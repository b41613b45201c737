"""Who may run the shared scan: staff store the signals everyone reads (and notify); anyone may ask a
private what-if with their own weights, which is answered, never stored, and notifies nobody."""

from __future__ import annotations

import pytest

from alphaloop.models import AuditLog
from factors.models import Signal
from notifications.models import NotificationLog
from tests.factors.test_signal_engine import END, SYMBOLS, _seed

ATTACK = {"as_of": END.isoformat(), "weights": {"mom_12_1": -5, "rsi_14": 5}}
OLDER = "2026-10-30"


@pytest.fixture
def universe(db):
    _seed()


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """POST signals/run and run what the commit would (the notifications)."""

    def _post(client, body):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post("/api/v1/signals/run", body, format="json")

    return _post


def _latest(client) -> list[tuple]:
    data = client.get("/api/v1/signals/latest?page_size=500").data
    return [(s["as_of"], s["symbol"], s["direction"], s["score"]) for s in data["results"]]


def test_a_plain_user_cannot_rewrite_the_shared_signals_or_notify_anyone(api, staff_api, other_user, universe, run):
    assert run(staff_api, {"as_of": END.isoformat()}).status_code == 200
    before, notified = _latest(api), NotificationLog.objects.count()

    refused = run(api, ATTACK)
    older = run(api, {**ATTACK, "as_of": OLDER})

    for response in (refused, older):
        assert response.status_code == 403
        assert response.data["code"] == "staff_only" and "what_if" in response.data["detail"]
    assert _latest(api) == before and _latest(staff_api) == before
    assert Signal.objects.filter(as_of=OLDER).count() == 0
    assert NotificationLog.objects.count() == notified
    assert AuditLog.objects.filter(action="signals.run").count() == 1  # the staff scan only


def test_a_what_if_answers_with_the_users_weights_and_stores_and_notifies_nothing(api, staff_api, other_user, universe, run):
    assert run(staff_api, {"as_of": END.isoformat()}).status_code == 200
    before, signals, notified = _latest(api), Signal.objects.count(), NotificationLog.objects.count()

    response = run(api, {**ATTACK, "as_of": OLDER, "what_if": True})

    assert response.status_code == 200, response.data
    assert response.data["what_if"] is True and response.data["weights"] == {"mom_12_1": -5.0, "rsi_14": 5.0}
    assert response.data["count"] == len(SYMBOLS) == len(response.data["signals"])
    assert {s["id"] for s in response.data["signals"]} == {None}
    assert {s["as_of"] for s in response.data["signals"]} == {OLDER}
    shared = {row[1]: row[3] for row in before}
    assert any(s["score"] != shared[s["symbol"]] for s in response.data["signals"])
    assert _latest(api) == before and Signal.objects.count() == signals
    assert NotificationLog.objects.count() == notified


def test_staff_run_the_shared_scan_which_everyone_reads_and_hears_about(api, staff_api, other_user, universe, run):
    response = run(staff_api, {"as_of": END.isoformat()})

    assert response.status_code == 200 and response.data["what_if"] is False
    assert response.data["count"] == len(SYMBOLS) == Signal.objects.filter(as_of=END).count()
    assert [row[1] for row in _latest(api)] == [row[1] for row in _latest(staff_api)] and _latest(api)
    fired = Signal.objects.filter(as_of=END).exclude(direction="FLAT").filter(strength__gte="0.5").count()
    assert fired and NotificationLog.objects.filter(event_type="signal_fired", account__user=other_user,
                                                    channel="websocket").count() == fired
    audit = AuditLog.objects.get(action="signals.run")
    assert audit.user.username == "desk" and audit.payload["as_of"] == END.isoformat()
