"""Every user trades through a paper account: made when the user is created (admin, createsuperuser,
a script), or on first use for a user who has none; audited either way."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from alphaloop.models import AuditLog
from orders.models import Account

PASSWORD = "Newbie-pass-2468"


def _summary_as(username: str, password: str = PASSWORD):
    client = APIClient()
    tokens = client.post("/api/v1/auth/token", {"username": username, "password": password}, format="json")
    assert tokens.status_code == 200, tokens.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.data['access']}")
    return client.get("/api/v1/dashboard/summary")


@pytest.mark.django_db
def test_a_user_added_in_the_admin_has_a_paper_account_and_a_dashboard_with_numbers(client, settings):
    root = get_user_model().objects.create_superuser("root", password="root-pass-123456")
    client.force_login(root)

    added = client.post("/admin/auth/user/add/", {"username": "newbie", "password1": PASSWORD,
                                                   "password2": PASSWORD, "usable_password": "true"})
    summary = _summary_as("newbie")

    assert added.status_code == 302, added.content[:2000]
    newbie = get_user_model().objects.get(username="newbie")
    account = newbie.accounts.get()
    assert (account.code, account.is_paper, account.cash) == ("PAPER-newbie", True, settings.PAPER_INITIAL_CASH)
    assert summary.status_code == 200
    assert (summary.data["account_id"], summary.data["total_equity"], summary.data["cash"]) == (
        account.pk, "100000.00", "100000.00")
    assert AuditLog.objects.filter(action="admin.add", resource=f"auth.user:{newbie.pk}").exists()
    row = AuditLog.objects.get(action="account.create", resource=f"account:{account.pk}")
    assert row.user == newbie and row.payload == {"cash": "100000"}


@pytest.mark.django_db
def test_a_user_made_by_a_script_has_exactly_one_account_however_often_saved():
    user = get_user_model().objects.create_user("scripted", password=PASSWORD)
    user.first_name = "Scripted"
    user.save()

    assert list(Account.objects.filter(user=user).values_list("code", flat=True)) == ["PAPER-scripted"]
    assert AuditLog.objects.filter(action="account.create", user=user).count() == 1


@pytest.mark.django_db
def test_a_user_without_an_account_gets_one_on_first_use(client):
    # A user from before accounts were made on creation (bulk_create sends no signal).
    get_user_model().objects.bulk_create([get_user_model()(username="veteran")])
    veteran = get_user_model().objects.get(username="veteran")
    veteran.set_password(PASSWORD)
    veteran.save(update_fields=["password"])
    assert not veteran.accounts.exists()

    summary = _summary_as("veteran")
    again = _summary_as("veteran")
    client.force_login(veteran)
    page = client.get("/")

    assert (summary.status_code, summary.data["account_id"], summary.data["total_equity"]) == (
        200, veteran.accounts.get().pk, "100000.00")
    assert again.status_code == 200 and page.status_code == 200 and b"PAPER-veteran" in page.content
    assert veteran.accounts.count() == 1
    assert AuditLog.objects.filter(action="account.create", user=veteran).count() == 1
