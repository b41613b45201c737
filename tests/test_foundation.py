"""The foundation: auth, scoping, audit, settings gates, every spec table, the served pages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from alphaloop.models import AuditLog

ROOT = Path(__file__).resolve().parent.parent

SPEC_TABLES = {
    "equity_snapshots": {
        "id", "account_id", "snapshot_date", "total_equity", "cash", "market_value", "realized_pnl",
        "unrealized_pnl", "daily_return", "cumulative_return", "max_drawdown_pct", "benchmark_return", "created_at",
    },
    "trade_pnl_attribution": {
        "id", "account_id", "symbol", "trade_date", "direction", "entry_price", "exit_price", "quantity",
        "realized_pnl", "holding_days", "strategy_tag", "factor_tag", "plan_id", "created_at",
    },
    "trade_journal": {
        "id", "account_id", "symbol", "direction", "entry_date", "exit_date", "entry_price", "exit_price",
        "quantity", "realized_pnl", "plan_id", "execution_quality", "emotion_state", "mistake_tags",
        "lesson_learned", "ai_review", "journal_status", "created_at", "updated_at",
    },
    "price_alerts": {
        "id", "account_id", "symbol", "condition_type", "threshold", "action", "linked_plan_id", "alert_status",
        "triggered_at", "created_at", "updated_at",
    },
    "alert_history": {
        "id", "alert_id", "account_id", "symbol", "trigger_price", "trigger_time", "notification_sent",
        "action_taken", "created_at",
    },
    "audit_logs": {"id", "user_id", "action", "resource", "payload", "ip_address", "created_at"},
    "notification_log": {"id", "account_id", "channel", "event_type", "title", "body", "status", "created_at"},
}

# (table, column) -> (max_digits, decimal_places) from spec section 2
SPEC_DECIMALS = {
    ("equity_snapshots", "total_equity"): (20, 2),
    ("equity_snapshots", "daily_return"): (10, 6),
    ("equity_snapshots", "benchmark_return"): (10, 6),
    ("trade_pnl_attribution", "entry_price"): (20, 6),
    ("trade_pnl_attribution", "realized_pnl"): (20, 2),
    ("trade_journal", "quantity"): (20, 6),
    ("trade_journal", "realized_pnl"): (20, 2),
    ("price_alerts", "threshold"): (20, 6),
    ("alert_history", "trigger_price"): (20, 6),
}


@pytest.mark.django_db
def test_every_spec_table_exists_with_its_columns():
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        for table, columns in SPEC_TABLES.items():
            assert table in tables
            found = {col.name for col in connection.introspection.get_table_description(cursor, table)}
            assert columns <= found, f"{table} lacks {columns - found}"


def test_spec_decimal_precisions_and_unique_keys():
    from django.apps import apps

    models = {m._meta.db_table: m for m in apps.get_models()}
    for (table, column), (digits, places) in SPEC_DECIMALS.items():
        field = next(f for f in models[table]._meta.fields if f.column == column)
        assert (field.max_digits, field.decimal_places) == (digits, places), (table, column)
    snapshot = models["equity_snapshots"]
    assert any(set(c.fields) == {"account", "snapshot_date"} for c in snapshot._meta.constraints)
    alert = models["price_alerts"]
    assert {f.name: f.default for f in alert._meta.fields}["alert_status"] == "ACTIVE"
    assert {f.name: f.default for f in models["trade_journal"]._meta.fields}["journal_status"] == "DRAFT"


def _placeholder(match: re.Match) -> str:
    """A value the path converter accepts, so the request reaches the view."""
    converter, name = match.groups()
    if converter == "uuid":
        return "00000000-0000-0000-0000-000000000001"
    return "SYM" if "symbol" in name else "1"


def _api_v1_paths() -> list[str]:
    """Every concrete /api/v1/ path, with placeholder ids filled in."""
    paths: list[str] = []

    def walk(patterns, prefix):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, route)
            elif isinstance(p, URLPattern):
                paths.append("/" + re.sub(r"<(?:(\w+):)?(\w+)>", _placeholder, route).lstrip("^").rstrip("$"))

    walk(get_resolver().url_patterns, "")
    return [p for p in paths if p.startswith("/api/v1/") and not p.startswith("/api/v1/auth/token")]


@pytest.mark.django_db
def test_every_api_v1_path_answers_401_without_a_token():
    client = APIClient()
    paths = _api_v1_paths()
    assert len(paths) >= 3
    for path in paths:
        for method in ("get", "post", "patch", "delete"):
            response = getattr(client, method)(path, format="json")
            assert response.status_code in (401, 405), (method, path, response.status_code)
            if method == "get" and response.status_code != 405:
                assert response.status_code == 401


@pytest.mark.django_db
def test_token_endpoint_returns_a_jwt_for_the_admin_created_by_bootstrap(monkeypatch):
    monkeypatch.setenv("ALPHALOOP_ADMIN_PASSWORD", "s3cret-admin-pass")
    call_command("bootstrap", "--no-seed", stdout=open(os.devnull, "w"))
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.accounts.count() == 1
    response = APIClient().post("/api/v1/auth/token", {"username": "admin", "password": "s3cret-admin-pass"}, format="json")
    assert response.status_code == 200
    assert response.data["access"].count(".") == 2 and response.data["refresh"]
    me = APIClient(HTTP_AUTHORIZATION=f"Bearer {response.data['access']}").get("/api/v1/account")
    assert me.status_code == 200 and me.data["code"] == "PAPER-admin"
    assert AuditLog.objects.filter(action="auth.token", user=admin).exists()


@pytest.mark.django_db
def test_bootstrap_is_idempotent(monkeypatch):
    monkeypatch.setenv("ALPHALOOP_ADMIN_PASSWORD", "s3cret-admin-pass")
    call_command("bootstrap", "--no-seed", stdout=open(os.devnull, "w"))
    call_command("bootstrap", "--no-seed", stdout=open(os.devnull, "w"))
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert get_user_model().objects.get(username="admin").accounts.count() == 1


@pytest.mark.django_db
def test_passwords_are_bcrypt_hashed(user):
    assert user.password.startswith("bcrypt_sha256$")
    from alphaloop import settings as real_settings

    assert real_settings.PASSWORD_HASHERS[0].endswith("BCryptSHA256PasswordHasher")


@pytest.mark.django_db
def test_second_user_cannot_see_the_first_users_account(api, other_api, account):
    assert api.get(f"/api/v1/accounts/{account.pk}").status_code == 200
    assert other_api.get(f"/api/v1/accounts/{account.pk}").status_code == 404
    assert other_api.get(f"/api/v1/account?account_id={account.pk}").status_code == 404
    listed = other_api.get("/api/v1/accounts/").data["results"]
    assert [a["code"] for a in listed] == ["PAPER-outsider"]


@pytest.mark.django_db
def test_repeated_failed_token_logins_are_locked_out_with_json_429(user):
    client = APIClient()
    statuses = [
        client.post("/api/v1/auth/token", {"username": "trader", "password": "wrong"}, format="json").status_code
        for _ in range(5)
    ]
    assert statuses == [401, 401, 401, 401, 429]  # the 5th failure (LOGIN_FAILURE_LIMIT) locks out
    locked = client.post("/api/v1/auth/token", {"username": "trader", "password": "correct-horse-battery"}, format="json")
    assert locked.status_code == 429
    assert locked.json()["code"] == "login_locked"
    assert AuditLog.objects.filter(action="auth.login_failed").count() >= 5


@pytest.mark.django_db
def test_browser_login_writes_an_audit_row_with_the_client_ip(client, user):
    response = client.post("/accounts/login/", {"username": "trader", "password": "correct-horse-battery"}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 302
    row = AuditLog.objects.get(action="auth.login")
    assert row.user == user and row.ip_address == "10.1.2.3"


@pytest.mark.django_db
def test_forwarded_for_is_trusted_only_from_a_configured_proxy(user, settings):
    import ipaddress

    from django.test import Client

    settings.TRUSTED_PROXIES = [ipaddress.ip_network("127.0.0.1/32")]
    Client().post("/accounts/login/", {"username": "trader", "password": "correct-horse-battery"},
                REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.9")
    Client().post("/accounts/login/", {"username": "trader", "password": "correct-horse-battery"},
                REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="203.0.113.9")
    ips = list(AuditLog.objects.filter(action="auth.login").order_by("id").values_list("ip_address", flat=True))
    assert ips == ["203.0.113.9", "198.51.100.7"]


@pytest.mark.django_db
def test_pages_require_login_and_admin_and_docs_are_served(client, user):
    assert client.get("/").status_code == 302
    assert client.get("/accounts/login/").status_code == 200
    assert client.get("/admin/login/").status_code == 200
    assert client.get("/api/docs/").status_code == 200
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/account" in schema.content
    client.force_login(user)
    page = client.get("/")
    assert page.status_code == 200 and b"PAPER-trader" in page.content


@pytest.mark.django_db
def test_admin_change_writes_an_audit_row(client, user, account):
    admin = get_user_model().objects.create_superuser("root", password="root-pass-123456")
    client.force_login(admin)
    url = f"/admin/orders/account/{account.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {k: ("" if v is None else v) for k, v in form.initial.items()}
    data.update({"trading_state": "HALTED", "user": user.pk, "allow_short": "on", "is_paper": "on"})
    response = client.post(url, data)
    assert response.status_code == 302, response.content[:2000]
    account.refresh_from_db()
    assert account.trading_state == "HALTED"
    row = AuditLog.objects.get(action="admin.change")
    assert row.resource == f"orders.account:{account.pk}" and row.payload["trading_state"] == "HALTED"


REAL_SECRET = "p3Xq-9vLr2Tz8Wm5Kc1Nh7Bf4Jd6Gs0Ya-EuIoQwRtYpLkMnBvCx"


def _start_django(env_overrides: dict) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "JWT_SIGNING_KEY", "JWT_SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env.update({"ALPHALOOP_ENV_FILE": "/nonexistent", "DJANGO_SETTINGS_MODULE": "alphaloop.settings", **env_overrides})
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _start_django({"DEBUG": "false"})
    assert result.returncode != 0
    assert "SECRET_KEY is missing or a default value" in result.stderr


def test_production_refuses_to_start_with_the_spec_default_jwt_key():
    result = _start_django({"DEBUG": "false", "SECRET_KEY": REAL_SECRET, "JWT_SIGNING_KEY": "change-me-please"})
    assert result.returncode != 0 and "JWT_SIGNING_KEY" in result.stderr


def test_production_starts_with_real_secrets():
    result = _start_django({"DEBUG": "false", "SECRET_KEY": REAL_SECRET, "JWT_SIGNING_KEY": REAL_SECRET[::-1]})
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [("MAX_ORDERS_PER_MINUTE", "five"), ("MAX_DAILY_LOSS_PCT", "abc"), ("ORDER_MODE", "LIVE"),
     ("EQUITY_SNAPSHOT_TIME", "4pm"), ("DEBUG", "maybe"), ("TRUSTED_PROXIES", "not-an-ip")],
)
def test_bad_setting_values_fail_at_start_naming_the_variable(name, value):
    result = _start_django({"DEBUG": "true", name: value})
    assert result.returncode != 0
    assert name in result.stderr
