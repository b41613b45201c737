"""The admin applies the API's rules and changes status only through the service."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from alerts.models import PriceAlert
from alerts.services import alert_create
from alphaloop.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(make_user):
    make_user("boss", staff=True)
    boss = get_user_model().objects.get(username="boss")
    boss.is_superuser = True
    boss.save()
    client = Client()
    client.force_login(boss)
    return client


def form(account, **overrides):
    data = {"account": account.pk, "symbol": "aapl", "condition_type": "price_above", "threshold": "190",
            "direction": "", "action": "notify", "linked_plan": "", "note": "", "expires_at_0": "", "expires_at_1": ""}
    return {**data, **overrides}


def test_the_admin_refuses_a_nonsense_threshold(admin_client, account, aapl):
    response = admin_client.post("/admin/alerts/pricealert/add/", form(account, condition_type="rsi_cross",
                                                                       threshold="150", direction="up"))

    assert response.status_code == 200
    assert "RSI lies between 0 and 100" in response.content.decode()
    assert not PriceAlert.objects.exists()


def test_the_admin_stores_a_valid_alert_normalized(admin_client, account, aapl):
    response = admin_client.post("/admin/alerts/pricealert/add/", form(account))

    assert response.status_code == 302
    alert = PriceAlert.objects.get()
    assert (alert.symbol, alert.threshold, alert.alert_status) == ("AAPL", Decimal("190"), "ACTIVE")


def test_admin_actions_pause_through_the_service(admin_client, account, aapl):
    alert = alert_create(account=account, symbol="AAPL", condition_type="price_above", threshold=Decimal("190"))

    admin_client.post("/admin/alerts/pricealert/", {"action": "pause_alerts", "_selected_action": [alert.pk]})

    alert.refresh_from_db()
    assert alert.alert_status == "PAUSED"
    assert AuditLog.objects.filter(action="alert.update", resource=f"alert:{alert.pk}").exists()
