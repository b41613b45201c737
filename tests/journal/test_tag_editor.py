"""The tag editor's API: rename, retire and restore a mistake tag; who may; what the entries keep."""

from __future__ import annotations

import datetime as dt

import pytest

from alphaloop.models import AuditLog
from journal.models import JournalTag, TradeJournal


def _tag(client, kind: str, name: str) -> dict:
    return next(t for t in client.get("/api/v1/journal/tags?page_size=500").data["results"] if (t["kind"], t["name"]) == (kind, name))


def _journal(account, **fields) -> TradeJournal:
    return TradeJournal.objects.create(account=account, symbol="AAPL", direction="LONG", **fields)


@pytest.mark.django_db
def test_renaming_your_tag_rewrites_your_entries_and_the_weekly_report_counts_the_new_name(api, account, other_user):
    tag = api.post("/api/v1/journal/tags", {"kind": "mistake", "name": "fat_finger"}, format="json").data
    mine = _journal(account, exit_date=dt.date(2026, 3, 4), realized_pnl="-40.00", mistake_tags=["no_stop", "fat_finger"])
    theirs = _journal(other_user.accounts.get(), mistake_tags=["no_stop"])

    response = api.patch(f"/api/v1/journal/tags/{tag['id']}", {"name": "typo_order"}, format="json")

    assert response.status_code == 200, response.data
    assert (response.data["name"], response.data["editable"], response.data["builtin"]) == ("typo_order", True, False)
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.mistake_tags == ["no_stop", "typo_order"] and theirs.mistake_tags == ["no_stop"]
    report = api.get("/api/v1/journal/weekly-report?date=2026-03-04").data
    assert {m["tag"]: m["count"] for m in report["mistakes"]} == {"no_stop": 1, "typo_order": 1}
    audit = AuditLog.objects.get(action="journal.tag_rename")
    assert (audit.user, audit.resource) == (account.user, f"journal_tag:{tag['id']}")
    assert audit.payload == {"kind": "mistake", "name": "typo_order", "from": "fat_finger", "to": "typo_order",
                             "entries": 1}


@pytest.mark.django_db
def test_a_retired_tag_is_refused_for_new_tagging_but_kept_by_the_entries_that_carry_it(api, account):
    tag = api.post("/api/v1/journal/tags", {"kind": "mistake", "name": "fat_finger"}, format="json").data
    tagged = _journal(account, mistake_tags=["fat_finger"])
    untagged = _journal(account)

    retired = api.patch(f"/api/v1/journal/tags/{tag['id']}", {"retired": True}, format="json")

    assert retired.status_code == 200 and retired.data["retired"] is True
    refused = api.patch(f"/api/v1/journal/{untagged.pk}", {"mistake_tags": ["fat_finger"]}, format="json")
    assert refused.status_code == 400 and "mistake_tags" in refused.data
    kept = api.patch(f"/api/v1/journal/{tagged.pk}", {"mistake_tags": ["fat_finger", "no_stop"], "notes": "x"},
                     format="json")
    assert kept.status_code == 200 and kept.data["mistake_tags"] == ["fat_finger", "no_stop"]
    assert _tag(api, "mistake", "fat_finger")["retired"] is True  # still listed, marked retired

    restored = api.patch(f"/api/v1/journal/tags/{tag['id']}", {"retired": False}, format="json")
    assert restored.data["retired"] is False
    assert api.patch(f"/api/v1/journal/{untagged.pk}", {"mistake_tags": ["fat_finger"]}, format="json").status_code == 200
    assert list(AuditLog.objects.filter(action__in=["journal.tag_retire", "journal.tag_restore"])
                .order_by("id").values_list("action", flat=True)) == ["journal.tag_retire", "journal.tag_restore"]


@pytest.mark.django_db
def test_only_staff_change_a_builtin_tag_and_a_rename_reaches_every_users_entries(api, staff_api, account, staff_user):
    builtin = _tag(api, "mistake", "chase_high")
    assert builtin["editable"] is False and _tag(staff_api, "mistake", "chase_high")["editable"] is True
    entry = _journal(account, mistake_tags=["chase_high"])

    refused = api.patch(f"/api/v1/journal/tags/{builtin['id']}", {"name": "chased"}, format="json")
    assert refused.status_code == 403 and refused.data["code"] == "staff_only"
    assert JournalTag.objects.get(pk=builtin["id"]).name == "chase_high"
    assert not AuditLog.objects.filter(action__startswith="journal.tag_").exists()

    renamed = staff_api.patch(f"/api/v1/journal/tags/{builtin['id']}", {"name": "chased_high"}, format="json")
    assert renamed.status_code == 200
    entry.refresh_from_db()
    assert entry.mistake_tags == ["chased_high"]  # another user's entry follows the built-in's new name


@pytest.mark.django_db
def test_someone_elses_tag_is_a_404_and_changes_nothing(api, other_api):
    tag = other_api.post("/api/v1/journal/tags", {"kind": "mistake", "name": "fat_finger"}, format="json").data
    response = api.patch(f"/api/v1/journal/tags/{tag['id']}", {"retired": True}, format="json")
    assert response.status_code == 404
    assert JournalTag.objects.get(pk=tag["id"]).retired_at is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": "no_stop"}, "name"),  # a built-in's name
        ({"name": "Fat Finger"}, "name"),
        ({"retired": "true"}, "retired"),  # a JSON boolean, as the schema says
    ],
)
def test_a_bad_tag_change_is_a_400_naming_the_field(api, account, body, field):
    tag = api.post("/api/v1/journal/tags", {"kind": "mistake", "name": "fat_finger"}, format="json").data
    response = api.patch(f"/api/v1/journal/tags/{tag['id']}", body, format="json")
    assert response.status_code == 400 and field in response.data
    assert JournalTag.objects.get(pk=tag["id"]).name == "fat_finger"
