"""Alert API (spec 3.4): list, create, PATCH, DELETE, history; validation and scoping."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import AlertHistory, PriceAlert
from alerts.services import alert_create, alert_trigger
from alphaloop.models import AuditLog
from orders.models import TradingPlan

from .conftest import MONDAY_1030_ET

pytestmark = pytest.mark.django_db


def create(api, **body):
    payload = {"symbol": "AAPL", "condition_type": "price_above", "threshold": "190.10", **body}
    return api.post("/api/v1/alerts/create", payload, format="json")


def test_create_returns_the_alert_and_audits_it(api, account, aapl):
    response = create(api, symbol="aapl", note="breakout")

    assert response.status_code == 201
    body = response.json()
    assert body["symbol"] == "AAPL" and body["threshold"] == "190.100000" and body["alert_status"] == "ACTIVE"
    assert body["account"] == account.pk and body["description"] == "AAPL at or above 190.1"
    assert AuditLog.objects.filter(action="alert.create", resource=f"alert:{body['id']}").exists()


@pytest.mark.parametrize("condition_type", ["rsi_cross", "macd_cross"])
def test_the_specs_own_body_without_a_direction_creates_an_alert_that_fires_either_way(api, account, aapl, plan_factory,
                                                                                      condition_type):
    plan = plan_factory(account)
    threshold = "70" if condition_type == "rsi_cross" else "0"
    response = api.post("/api/v1/alerts/create", {"symbol": "AAPL", "condition_type": condition_type, "threshold": threshold,
                                                  "action": "auto_execute", "linked_plan_id": plan.pk}, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["direction"], body["linked_plan_id"], body["action"]) == ("", plan.pk, "auto_execute")
    assert body["description"].endswith("either way")


def test_macd_cross_needs_no_threshold(api, aapl):
    response = create(api, condition_type="macd_cross", threshold=None, direction="up")
    assert response.status_code == 201 and response.json()["threshold"] == "0.000000"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": "NOPE"}, "symbol"),
        ({"threshold": "-1"}, "threshold"),
        ({"threshold": "0"}, "threshold"),
        ({"condition_type": "pct_change", "threshold": "0", "direction": "up"}, "threshold"),
        ({"condition_type": "pct_change", "threshold": "100", "direction": "down"}, "threshold"),
        ({"condition_type": "rsi_cross", "threshold": "150", "direction": "up"}, "threshold"),
        ({"condition_type": "rsi_cross", "threshold": "0", "direction": "up"}, "threshold"),
        ({"condition_type": "macd_cross", "threshold": "1.5", "direction": "up"}, "threshold"),
        ({"condition_type": "price_cross"}, "condition_type"),
        ({"threshold": "abc"}, "threshold"),
        ({"action": "auto_execute"}, "linked_plan_id"),
        ({"action": "request_approval"}, "linked_plan_id"),
        ({"linked_plan_id": 999999}, "linked_plan_id"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({"direction": "sideways"}, "direction"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, aapl, body, field):
    response = create(api, **body)

    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not PriceAlert.objects.exists()
    assert not AuditLog.objects.filter(action="alert.create").exists()


def test_a_plan_of_another_user_is_refused_like_a_missing_one(api, aapl, other_user, plan_factory):
    foreign = plan_factory(other_user.accounts.get())
    response = create(api, action="auto_execute", linked_plan_id=foreign.pk)
    missing = create(api, action="auto_execute", linked_plan_id=foreign.pk + 1000)

    assert response.status_code == 400 and "linked_plan_id" in response.json()
    assert response.json()["linked_plan_id"][0].replace(str(foreign.pk), "N") == \
        missing.json()["linked_plan_id"][0].replace(str(foreign.pk + 1000), "N")
    assert not PriceAlert.objects.exists()


def test_a_plan_that_was_already_executed_cannot_be_linked_for_execution(api, account, aapl, plan_factory):
    plan = plan_factory(account, status=TradingPlan.EXECUTED)
    response = create(api, action="auto_execute", linked_plan_id=plan.pk)
    assert response.status_code == 400 and "EXECUTED" in response.json()["linked_plan_id"][0]


def test_list_filters_by_status(api, account, aapl):
    active = alert_create(account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal("200"))
    fired = alert_create(account=account, symbol="AAPL", condition_type="price_below", threshold=Decimal("100"))
    alert_trigger(alert=fired, price=Decimal("99"), at=MONDAY_1030_ET)

    everything = api.get("/api/v1/alerts/list").json()["results"]
    only_active = api.get("/api/v1/alerts/list?status=ACTIVE").json()["results"]

    assert {a["id"] for a in everything} == {active.pk, fired.pk}
    assert [a["id"] for a in only_active] == [active.pk]
    assert api.get("/api/v1/alerts/list?status=SLEEPING").status_code == 400


def test_patch_changes_threshold_and_pauses(api, account, aapl):
    alert = alert_create(account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal("200"))

    response = api.patch(f"/api/v1/alerts/{alert.pk}", {"threshold": "205.5", "alert_status": "PAUSED"}, format="json")

    assert response.status_code == 200
    assert response.json()["threshold"] == "205.500000" and response.json()["alert_status"] == "PAUSED"
    assert AuditLog.objects.filter(action="alert.update", resource=f"alert:{alert.pk}").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"threshold": "-3"}, "threshold"),
        ({"alert_status": "TRIGGERED"}, "alert_status"),
        ({"action": "auto_execute"}, "linked_plan_id"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
        ({}, "non_field_errors"),
    ],
)
def test_bad_patches_are_refused_and_change_nothing(api, account, aapl, body, field):
    alert = alert_create(account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal("200"))

    response = api.patch(f"/api/v1/alerts/{alert.pk}", body, format="json")

    assert response.status_code == 400 and field in response.json()
    alert.refresh_from_db()
    assert (alert.threshold, alert.alert_status, alert.action) == (Decimal("200"), "ACTIVE", "notify")


def test_delete_removes_the_alert(api, account, aapl):
    alert = alert_create(account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal("200"))

    assert api.delete(f"/api/v1/alerts/{alert.pk}").status_code == 204
    assert not PriceAlert.objects.exists()
    assert AuditLog.objects.filter(action="alert.delete", resource=f"alert:{alert.pk}").exists()


def test_history_is_newest_first_and_limited(api, account, aapl):
    for i in range(3):
        alert = alert_create(account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal("100"))
        alert_trigger(alert=alert, price=Decimal(101 + i), at=MONDAY_1030_ET + timedelta(minutes=i))

    response = api.get("/api/v1/alerts/history?limit=2")

    assert response.status_code == 200
    assert [h["trigger_price"] for h in response.json()["results"]] == ["103.000000", "102.000000"]
    assert response.json()["count"] == 3 and response.json()["results"][0]["action_taken"] == "notified"
    assert api.get("/api/v1/alerts/history?limit=0").status_code == 400


def test_a_stranger_sees_none_of_it(api, other_api, account, aapl):
    alert = alert_create(account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal("100"))
    alert_trigger(alert=alert, price=Decimal("101"), at=timezone.now())

    assert other_api.get("/api/v1/alerts/list").json()["results"] == []
    assert other_api.get("/api/v1/alerts/history").json()["results"] == []
    assert other_api.get(f"/api/v1/alerts/{alert.pk}").status_code == 404
    assert other_api.patch(f"/api/v1/alerts/{alert.pk}", {"alert_status": "ACTIVE"}, format="json").status_code == 404
    assert other_api.delete(f"/api/v1/alerts/{alert.pk}").status_code == 404
    alert.refresh_from_db()
    assert alert.alert_status == PriceAlert.TRIGGERED and AlertHistory.objects.count() == 1
    # The owner reaches it.
    assert api.get(f"/api/v1/alerts/{alert.pk}").status_code == 200


def test_listing_another_users_account_is_a_404_like_every_sibling_endpoint(api, other_api, account, aapl):
    alert_create(account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal("100"))

    foreign = other_api.get(f"/api/v1/alerts/list?account_id={account.pk}")
    missing = other_api.get("/api/v1/alerts/list?account_id=999999")

    assert (foreign.status_code, missing.status_code) == (404, 404)
    assert foreign.json() == missing.json()
    assert other_api.get(f"/api/v1/positions?account_id={account.pk}").status_code == 404  # the sibling it now matches
    assert [a["symbol"] for a in api.get(f"/api/v1/alerts/list?account_id={account.pk}").json()["results"]] == ["AAPL"]


def test_every_endpoint_requires_a_token(client):
    for path in ("/api/v1/alerts/list", "/api/v1/alerts/history", "/api/v1/alerts/1"):
        assert client.get(path).status_code == 401
    assert client.post("/api/v1/alerts/create", {}).status_code == 401
