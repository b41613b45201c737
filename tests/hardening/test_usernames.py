"""One username rule on SQLite and on MariaDB: usernames are case-insensitive. Any case logs in (token,
browser, admin), a username another user holds in another case cannot be taken, and the lockout
counts the failures of every spelling together."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

PASSWORD = "correct-horse-battery"  # tests/conftest.py make_user


def _token_login(username: str, password: str = PASSWORD):
    return APIClient().post("/api/v1/auth/token", {"username": username, "password": password}, format="json")


@pytest.mark.django_db
def test_a_username_logs_in_in_any_case_on_the_api(make_user):
    bob = make_user("bob")

    answers = {name: _token_login(name) for name in ("bob", "BOB", "Bob")}
    wrong_password = _token_login("BOB", "not-the-password")

    assert {name: r.status_code for name, r in answers.items()} == {"bob": 200, "BOB": 200, "Bob": 200}
    assert {str(AccessToken(r.data["access"])["user_id"]) for r in answers.values()} == {str(bob.pk)}
    assert wrong_password.status_code == 401


@pytest.mark.django_db
def test_a_username_stored_with_capitals_logs_in_in_lower_case(make_user):
    make_user("Carol")

    assert _token_login("carol").status_code == 200
    assert _token_login("CAROL").status_code == 200


@pytest.mark.django_db
def test_the_browser_and_admin_logins_take_any_case(make_user):
    make_user("bob")
    make_user("desk", staff=True)
    browser, admin = Client(), Client()

    page = browser.post("/accounts/login/", {"username": "BOB", "password": PASSWORD})
    console = admin.post("/admin/login/?next=/admin/", {"username": "Desk", "password": PASSWORD})

    assert (page.status_code, page["Location"]) == (302, "/")
    assert (console.status_code, console["Location"]) == (302, "/admin/")


@pytest.mark.django_db
def test_a_username_held_in_another_case_cannot_be_created(make_user):
    make_user("bob")

    with pytest.raises(IntegrityError), transaction.atomic():
        get_user_model().objects.create_user("Bob", password="another-password-123")

    assert list(get_user_model().objects.values_list("username", flat=True)) == ["bob"]


@pytest.mark.django_db
def test_the_admin_refuses_a_username_held_in_another_case_on_add_and_on_rename(make_user, client):
    root = get_user_model().objects.create_superuser("root", password="root-pass-123456")
    make_user("bob")
    alice = make_user("alice")
    client.force_login(root)

    added = client.post("/admin/auth/user/add/", {"username": "BOB", "password1": "Another-pass-9876",
                                                   "password2": "Another-pass-9876", "usable_password": "true"})
    change_form = client.get(f"/admin/auth/user/{alice.pk}/change/").context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in change_form.initial.items()
            if k not in {"groups", "user_permissions"}}
    renamed = client.post(f"/admin/auth/user/{alice.pk}/change/", {**data, "username": "Bob"})

    assert added.status_code == 200 and "A user with that username already exists." in added.content.decode()
    assert renamed.status_code == 200 and "A user with that username already exists." in renamed.content.decode()
    assert sorted(get_user_model().objects.values_list("username", flat=True)) == ["alice", "bob", "root"]


@pytest.mark.django_db
def test_the_lockout_counts_failures_in_every_case_together(make_user, settings):
    make_user("bob")
    spellings = ["bob", "BOB", "Bob", "bOB", "boB", "BoB", "bOb"][: settings.AXES_FAILURE_LIMIT]
    client = APIClient()

    statuses = [client.post("/api/v1/auth/token", {"username": name, "password": "guess"}, format="json").status_code
                for name in spellings]
    locked = client.post("/api/v1/auth/token", {"username": "bob", "password": PASSWORD}, format="json")

    assert statuses == [401] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    assert locked.status_code == 429 and locked.json()["code"] == "login_locked"
