"""NotificationService: fan-out by preference, one transport per channel, every attempt logged."""

from __future__ import annotations

import pytest
from django.core import mail

from notifications.models import LiveEvent, NotificationLog, NotificationPreference
from notifications.services import notify
from notifications.transports import DesktopTransport, live_channel_for

pytestmark = pytest.mark.django_db


def test_without_preferences_it_goes_to_the_socket_and_the_desktop(account):
    rows = notify(account=account, event_type="order_filled", title="Filled 10 AAPL", body="at 190", data={"order_id": 7})

    assert [(r.channel, r.status) for r in rows] == [("websocket", "SENT"), ("desktop", "SENT")]
    live = {e.channel: e for e in LiveEvent.objects.filter(user=account.user)}
    assert live["order_update"].event == "order_filled"
    assert live["order_update"].data == {"account_id": account.pk, "order_id": 7, "event_type": "order_filled",
                                         "title": "Filled 10 AAPL", "body": "at 190"}
    assert live["notification"].event == "desktop" and live["notification"].data["title"] == "Filled 10 AAPL"


def test_with_a_bot_token_telegram_is_a_default_channel_too(account, telegram, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        rows = notify(account=account, event_type="risk_warning", title="Daily loss breaker tripped")

    assert [r.channel for r in rows] == ["websocket", "telegram", "desktop"]
    assert NotificationLog.objects.get(channel="telegram").status == "SENT"
    assert telegram.calls("sendMessage")[0]["text"] == "Daily loss breaker tripped"


@pytest.mark.parametrize(
    ("event_type", "live_channel"),
    [("price_alert", "price_alert"), ("order_filled", "order_update"), ("order_rejected", "order_update"),
     ("risk_warning", "risk_warning"), ("signal_fired", "signal_fired"), ("equity_update", "equity_update"),
     ("approval_requested", "notification"), ("journal_draft", "notification")],
)
def test_each_event_type_goes_to_its_live_channel(event_type, live_channel):
    assert live_channel_for(event_type) == live_channel


def test_the_users_preference_decides_the_channels(account, make_user):
    account.user.email = "trader@example.com"
    account.user.save()
    NotificationPreference.objects.create(user=account.user, event_type="price_alert", channels=["email", "websocket"])
    NotificationPreference.objects.create(user=account.user, event_type="equity_update", channels=[])

    alert_rows = notify(account=account, event_type="price_alert", title="AAPL above 190")
    silent = notify(account=account, event_type="equity_update", title="Equity 100,000")

    assert [r.channel for r in alert_rows] == ["websocket", "email"] and silent == []
    assert not LiveEvent.objects.filter(channel="equity_update").exists()


def test_email_is_sent_after_commit_to_the_users_address(account, django_capture_on_commit_callbacks):
    account.user.email = "trader@example.com"
    account.user.save()

    with django_capture_on_commit_callbacks(execute=True):
        assert mail.outbox == []
        from notifications.services import notification_send

        row = notification_send("email", "journal_draft", "Journal draft ready", "Trade #3", account=account)
        assert mail.outbox == []

    row.refresh_from_db()
    assert row.status == "SENT"
    assert [(m.subject, m.body, m.to) for m in mail.outbox] == [("Journal draft ready", "Trade #3", ["trader@example.com"])]


def test_one_failing_transport_never_blocks_the_others(account, telegram, monkeypatch, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(
        user=account.user, event_type="price_alert", channels=["websocket", "telegram", "email", "desktop"]
    )
    for _ in range(3):
        telegram.answer(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})

    def desktop_down(self, message):
        raise RuntimeError("desktop bridge crashed")

    monkeypatch.setattr(DesktopTransport, "notify", desktop_down)

    with django_capture_on_commit_callbacks(execute=True):
        notify(account=account, event_type="price_alert", title="AAPL above 190")

    rows = {r.channel: r for r in NotificationLog.objects.all()}
    assert rows["websocket"].status == "SENT" and rows["websocket"].error == ""
    assert rows["telegram"].status == "FAILED" and "HTTP 500" in rows["telegram"].error
    assert rows["email"].status == "FAILED" and rows["email"].error == "the user has no e-mail address (permanent)"
    assert rows["desktop"].status == "FAILED" and rows["desktop"].error == "RuntimeError: desktop bridge crashed"
    assert LiveEvent.objects.filter(channel="price_alert").count() == 1


def test_a_channel_layer_outage_still_stores_the_event_for_replay(account, monkeypatch):
    import notifications.events

    monkeypatch.setattr(notifications.events, "group_send_safely", lambda group, message: False)

    rows = notify(account=account, event_type="signal_fired", title="LONG AAPL")

    assert {r.status for r in rows} == {"SENT"}
    assert "delivered on reconnect" in rows[0].error
    assert LiveEvent.objects.filter(channel="signal_fired").count() == 1


def test_a_long_title_is_cut_to_the_column(account):
    row = notify(account=account, event_type="journal_draft", title="x" * 300)[0]
    assert len(row.title) == 128
