"""Notifications API: list, mark read, read-all, preferences, events catch-up; scoped to the user."""

from __future__ import annotations

import pytest

from alphaloop.models import AuditLog
from notifications.events import event_publish
from notifications.models import NotificationLog, NotificationPreference
from notifications.services import notify

pytestmark = pytest.mark.django_db


def log(account, *, channel="websocket", status="SENT", title="t"):
    return NotificationLog.objects.create(account=account, channel=channel, event_type="price_alert", title=title,
                                          status=status)


def test_list_is_paged_newest_first_and_filtered(api, account):
    rows = [log(account, title=f"n{i}") for i in range(5)]
    log(account, channel="telegram", status="FAILED", title="failed")

    page = api.get("/api/v1/notifications/list?page_size=2").json()
    failed = api.get("/api/v1/notifications/list?status=FAILED").json()
    socket = api.get("/api/v1/notifications/list?channel=websocket&page=3&page_size=2").json()

    assert page["count"] == 6 and [n["title"] for n in page["results"]] == ["failed", "n4"]
    assert [n["title"] for n in failed["results"]] == ["failed"]
    assert [n["id"] for n in socket["results"]] == [rows[0].pk]
    assert api.get("/api/v1/notifications/list?status=LOST").status_code == 400
    assert api.get("/api/v1/notifications/list?channel=pigeon").status_code == 400


def test_mark_read_sets_read_once_and_audits(api, account):
    row = log(account)

    response = api.post(f"/api/v1/notifications/{row.pk}/read")
    again = api.post(f"/api/v1/notifications/{row.pk}/read")

    assert response.status_code == 200 and response.json()["status"] == "READ"
    assert again.status_code == 200
    row.refresh_from_db()
    assert row.status == "READ"
    assert AuditLog.objects.filter(action="notification.read", resource=f"notification:{row.pk}").count() == 1


def test_a_failed_delivery_cannot_be_marked_read(api, account):
    row = log(account, channel="telegram", status="FAILED")

    response = api.post(f"/api/v1/notifications/{row.pk}/read")

    assert response.status_code == 400 and response.json()["code"] == "not_delivered"
    row.refresh_from_db()
    assert row.status == "FAILED"


def test_read_all_marks_only_the_users_sent_rows(api, account, other_user):
    mine = [log(account), log(account), log(account, status="FAILED")]
    theirs = log(other_user.accounts.get())

    response = api.post("/api/v1/notifications/read-all")

    assert response.json() == {"updated": 2}
    assert [NotificationLog.objects.get(pk=r.pk).status for r in mine] == ["READ", "READ", "FAILED"]
    assert NotificationLog.objects.get(pk=theirs.pk).status == "SENT"


def test_a_stranger_can_neither_see_nor_read_my_notifications(api, other_api, account):
    row = log(account)

    assert other_api.get("/api/v1/notifications/list").json()["count"] == 0
    assert other_api.post(f"/api/v1/notifications/{row.pk}/read").status_code == 404
    assert other_api.get("/api/v1/notifications/events").json()["events"] == []
    row.refresh_from_db()
    assert row.status == "SENT"
    assert api.get("/api/v1/notifications/list").json()["count"] == 1


def test_preferences_show_defaults_and_store_changes(api, user, settings):
    defaults = api.get("/api/v1/notifications/preferences").json()["preferences"]
    assert defaults["price_alert"] == {"channels": ["websocket", "desktop"], "is_default": True}
    assert set(defaults) >= {"order_filled", "order_rejected", "risk_warning", "approval_requested", "price_alert",
                             "signal_fired", "equity_update", "journal_draft"}

    response = api.put("/api/v1/notifications/preferences",
                       {"preferences": {"price_alert": ["desktop", "websocket"], "equity_update": []}}, format="json")

    assert response.status_code == 200
    body = response.json()["preferences"]
    assert body["price_alert"] == {"channels": ["websocket", "desktop"], "is_default": False}
    assert body["equity_update"] == {"channels": [], "is_default": False}
    assert body["order_filled"]["is_default"] is True
    assert AuditLog.objects.filter(action="notification.preferences").count() == 1


@pytest.mark.parametrize(
    "preferences",
    [
        {"lunch_ready": ["websocket"]},
        {"price_alert": ["pigeon"]},
        {"price_alert": ["email"]},  # the user has no e-mail address
        {},
    ],
)
def test_bad_preferences_are_a_400_and_store_nothing(api, preferences):
    response = api.put("/api/v1/notifications/preferences", {"preferences": preferences}, format="json")

    assert response.status_code == 400 and "preferences" in response.json()
    assert not NotificationPreference.objects.exists()


def test_events_catch_up_over_http_after_an_id(api, user, other_user):
    first = event_publish(user_id=user.pk, channel="price_alert", event="price_alert", data={"n": 1})
    event_publish(user_id=other_user.pk, channel="price_alert", event="price_alert", data={"n": "theirs"})
    second = event_publish(user_id=user.pk, channel="order_update", event="FILLED", data={"n": 2})
    third = event_publish(user_id=user.pk, channel="risk_warning", event="daily_loss_breaker", data={"n": 3})

    page = api.get(f"/api/v1/notifications/events?after={first.pk}&limit=1").json()
    rest = api.get(f"/api/v1/notifications/events?after={page['last_id']}").json()

    assert [e["id"] for e in page["events"]] == [second.pk] and page["has_more"] is True
    assert [e["data"] for e in rest["events"]] == [{"n": 3}] and rest["last_id"] == third.pk and not rest["has_more"]
    assert api.get("/api/v1/notifications/events?after=-1").status_code == 400


def test_notify_rows_appear_in_the_list(api, account):
    notify(account=account, event_type="price_alert", title="AAPL above 190")

    titles = [(n["channel"], n["title"]) for n in api.get("/api/v1/notifications/list").json()["results"]]
    assert sorted(titles) == [("desktop", "AAPL above 190"), ("websocket", "AAPL above 190")]


def test_every_endpoint_requires_a_token(client):
    assert client.get("/api/v1/notifications/list").status_code == 401
    assert client.get("/api/v1/notifications/preferences").status_code == 401
    assert client.get("/api/v1/notifications/events").status_code == 401
    assert client.post("/api/v1/notifications/read-all").status_code == 401
