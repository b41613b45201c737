"""Every model is in the admin, and every changelist, search and add page renders."""

import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model


@pytest.mark.django_db
def test_every_admin_changelist_renders_with_search_and_filters(client, account):
    root = get_user_model().objects.create_superuser("root", password="root-pass-123456")
    client.force_login(root)
    registered = admin.site._registry
    app_models = {m._meta.label for m in registered}
    for label in ("orders.Order", "orders.Account", "alerts.PriceAlert", "journal.TradeJournal",
                  "orders.TradingPlan", "alphaloop.AuditLog", "equity.EquitySnapshot", "notifications.NotificationLog",
                  "marketdata.Bar", "factors.Signal", "backtest.BacktestRun"):
        assert label in app_models
    for model, model_admin in registered.items():
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url
        if model_admin.search_fields:
            assert client.get(url, {"q": "x"}).status_code == 200, url
        if model_admin.has_add_permission(type("R", (), {"user": root})()):
            assert client.get(url + "add/").status_code == 200, url


@pytest.mark.django_db
def test_audit_log_is_read_only_in_admin(client):
    from alphaloop.audit import audit_log_create

    root = get_user_model().objects.create_superuser("root", password="root-pass-123456")
    client.force_login(root)
    row = audit_log_create(action="test.action", resource="thing:1", user=root)
    assert client.get("/admin/alphaloop/auditlog/add/").status_code == 403
    assert client.post(f"/admin/alphaloop/auditlog/{row.pk}/delete/", {"post": "yes"}).status_code == 403


@pytest.mark.django_db
def test_the_admin_index_names_every_model_in_plain_english(client):
    root = get_user_model().objects.create_superuser("root", password="root-pass-123456")
    client.force_login(root)

    page = client.get("/admin/").content.decode()
    names = re.findall(r'<th scope="row"[^>]*>\s*<a href="/admin/\w+/\w+/"[^>]*>([^<]+)</a>', page)

    assert len(names) == len(admin.site._registry)
    assert [name for name in names if re.search(r"[^aeiou]ys$", name)] == []  # "Alert historys"
    assert {"Alert history", "Trade P&amp;L attributions", "Walk-forward runs"} <= set(names)
