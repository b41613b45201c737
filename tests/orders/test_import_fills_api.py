"""``POST /api/v1/orders/import-fills``: a multipart upload of a broker's file, answered with the per-row report."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from orders.models import Account, Fill
from tests.conftest import jwt_client

SAMPLES = Path(__file__).parent / "samples"
URL = "/api/v1/orders/import-fills"
AFTER_THE_CLOSE = dt.datetime(2024, 3, 15, 22, 0, tzinfo=dt.timezone.utc)

pytestmark = pytest.mark.django_db


@pytest.fixture
def trader(user, time_machine):
    """The trader's API client, its token issued at the frozen time (after the samples' last session)."""
    time_machine.move_to(AFTER_THE_CLOSE, tick=False)
    return jwt_client(user)


def upload(name: str, content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content if content is not None else (SAMPLES / name).read_bytes())


def test_the_owner_uploads_an_ibkr_statement_and_reads_the_report(trader, account):
    response = trader.post(URL, {"file": upload("ibkr_flex_trades.csv"), "format": "ibkr-flex",
                                 "account_id": str(account.pk)}, format="multipart")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert {key: body[key] for key in ("status", "rows", "executions", "imported", "duplicates", "orders_created")} == {
        "status": "imported", "rows": 10, "executions": 7, "imported": 7, "duplicates": 0, "orders_created": 6}
    assert body["detail"] == "Imported 7 execution(s) into PAPER-trader; 0 already in the ledger; 3 row(s) skipped."
    assert body["skipped"][0] == {"line": 7, "message": "AAPL  240419C00175000 is an option: AlphaLoop's ledger books US stocks"}
    assert (body["first_executed_at"], body["errors"]) == ("2024-03-11T13:45:10Z", [])
    assert Account.objects.get(pk=account.pk).cash == D("74497.60")

    again = trader.post(URL, {"file": upload("ibkr_flex_trades.csv"), "format": "ibkr-flex"}, format="multipart")
    assert (again.status_code, again.json()["imported"], again.json()["duplicates"]) == (200, 0, 7)


def test_another_users_account_is_a_404_and_nothing_is_written(trader, other_user):
    foreign = other_user.accounts.get()

    response = trader.post(URL, {"file": upload("generic_fills.csv"), "format": "csv", "account_id": str(foreign.pk)},
                           format="multipart")

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert not Fill.objects.exists()


def test_a_file_with_a_bad_row_is_a_422_naming_the_line_and_imports_nothing(trader, account):
    bad = (SAMPLES / "generic_fills.csv").read_bytes().replace(b"178.60", b"-178.60")

    response = trader.post(URL, {"file": upload("fills.csv", bad), "format": "csv"}, format="multipart")

    assert response.status_code == 422
    body = response.json()
    assert (body["code"], body["status"], body["detail"]) == ("import_refused", "refused", "1 bad row(s): nothing was imported.")
    assert body["errors"] == [{"line": 3, "message": "price must be positive, not -178.60"}]
    assert not Fill.objects.exists()


def test_a_dry_run_answers_the_report_and_writes_nothing(trader, account):
    response = trader.post(URL, {"file": upload("alpaca_activities_fill.json"), "format": "alpaca", "dry_run": "true"},
                           format="multipart")

    assert response.status_code == 200
    assert (response.json()["status"], response.json()["imported"]) == ("dry_run", 6)
    assert not Fill.objects.exists()


@pytest.mark.parametrize(("fields", "field"), [
    ({"format": "xlsx"}, "format"),
    ({"account_id": "1.0"}, "account_id"),
    ({"account_id": " 1"}, "account_id"),
    ({"account_id": "99999999999999999999"}, "account_id"),
    ({"dry_run": "yes"}, "dry_run"),
    ({"file": None}, "file"),
])
def test_a_bad_field_is_a_400_naming_it(trader, account, fields, field):
    data = {"file": upload("generic_fills.csv"), "format": "csv", **fields}
    data = {key: value for key, value in data.items() if value is not None}

    response = trader.post(URL, data, format="multipart")

    assert (response.status_code, list(response.json())) == (400, [field])
    assert not Fill.objects.exists()


def test_a_json_body_is_a_415(trader):
    response = trader.post(URL, {"format": "csv"}, format="json")

    assert (response.status_code, response.json()["code"]) == (415, "unsupported_media_type")


def test_an_upload_over_the_size_limit_is_a_413_before_it_is_read(trader, account, settings):
    settings.IMPORT_FILLS_MAX_BYTES = 200

    response = trader.post(URL, {"file": upload("ibkr_flex_trades.csv"), "format": "ibkr-flex"}, format="multipart")

    assert (response.status_code, response.json()) == (413, {"detail": "The upload is larger than 200 bytes.",
                                                              "code": "request_too_large"})
    assert not Fill.objects.exists()


def test_an_upload_over_the_row_limit_is_refused_whole(trader, account, settings):
    settings.IMPORT_FILLS_MAX_ROWS = 2

    response = trader.post(URL, {"file": upload("generic_fills.csv"), "format": "csv"}, format="multipart")

    assert response.status_code == 422
    assert response.json()["errors"] == [{"line": 1, "message": "3 rows: an upload takes at most 2 (IMPORT_FILLS_MAX_ROWS); "
                                                                "split the file or run manage.py import_fills"}]
    assert not Fill.objects.exists()


def test_without_a_token_it_is_a_401(account, time_machine):
    response = APIClient().post(URL, {"file": upload("generic_fills.csv"), "format": "csv"}, format="multipart")

    assert response.status_code == 401
    assert not Fill.objects.exists()
