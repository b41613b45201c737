"""Journal API: list paging and filters, create, PATCH with the status flow and the vocabulary, tags, scoping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from alphaloop.models import AuditLog
from journal.models import JournalTag, TradeJournal
from orders.models import TradingPlan

CREATE = {
    "symbol": "aapl", "direction": "LONG", "entry_date": "2026-03-02", "exit_date": "2026-03-04",
    "entry_price": "180.50", "exit_price": "176.00", "quantity": "20", "realized_pnl": "-90.00",
    "execution_quality": 2, "emotion_state": "fomo", "mistake_tags": ["chase_high", "no_stop", "chase_high"],
    "lesson_learned": "Wait for the pullback.", "notes": "Bought the gap.",
}


def _journal(account, **fields) -> TradeJournal:
    defaults = {"symbol": "AAPL", "direction": "LONG"}
    return TradeJournal.objects.create(account=account, **(defaults | fields))


# --- create ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_create_writes_a_draft_and_an_audit_row(api, account):
    response = api.post("/api/v1/journal/create", CREATE, format="json")

    assert response.status_code == 201, response.data
    journal = TradeJournal.objects.get(pk=response.data["id"])
    assert (journal.symbol, journal.journal_status, journal.account) == ("AAPL", "DRAFT", account)
    assert journal.mistake_tags == ["chase_high", "no_stop"]  # duplicates dropped, order kept
    assert response.data["realized_pnl"] == "-90.00" and response.data["entry_price"] == "180.500000"
    audit = AuditLog.objects.get(action="journal.create")
    assert (audit.user, audit.resource) == (account.user, f"journal:{journal.pk}")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change, field",
    [
        ({"emotion_state": "zen"}, "emotion_state"),
        ({"mistake_tags": ["chase_high", "bad_luck"]}, "mistake_tags"),
        ({"direction": "UP"}, "direction"),
        ({"execution_quality": 6}, "execution_quality"),
        ({"exit_date": "2026-03-01"}, "exit_date"),
        ({"symbol": "AAPL; DROP"}, "symbol"),
        ({"entry_price": "-1"}, "entry_price"),
        ({"plan_id": 999999}, "plan_id"),
        ({"mistake_tags": "chase_high"}, "mistake_tags"),
    ],
)
def test_create_with_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, account, change, field):
    response = api.post("/api/v1/journal/create", CREATE | change, format="json")

    assert response.status_code == 400
    assert list(response.data) == [field]
    assert not TradeJournal.objects.exists()
    assert not AuditLog.objects.filter(action="journal.create").exists()


@pytest.mark.django_db
def test_the_vocabulary_error_names_the_unknown_words_and_the_known_ones(api, account):
    response = api.post("/api/v1/journal/create", CREATE | {"mistake_tags": ["bad_luck"]}, format="json")
    message = response.data["mistake_tags"][0]
    assert "bad_luck" in message and "chase_high" in message


@pytest.mark.django_db
def test_a_plan_of_another_user_cannot_be_linked(api, other_user):
    plan = TradingPlan.objects.create(
        account=other_user.accounts.get(), symbol="AAPL", direction="LONG", entry_price=Decimal("1"),
        quantity=Decimal("1"),
    )
    response = api.post("/api/v1/journal/create", CREATE | {"plan_id": plan.pk}, format="json")
    assert response.status_code == 400 and "plan_id" in response.data
    assert not TradeJournal.objects.exists()


@pytest.mark.django_db
def test_creating_in_someone_elses_account_is_a_404(api, other_user):
    response = api.post("/api/v1/journal/create", CREATE | {"account_id": other_user.accounts.get().pk}, format="json")
    assert response.status_code == 404
    assert not TradeJournal.objects.exists()


# --- vocabulary ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_users_extend_the_vocabulary_for_themselves_only(api, other_api, account, other_user):
    created = api.post("/api/v1/journal/tags", {"kind": "mistake", "name": "no_journal", "description": "Skipped it"},
                       format="json")
    assert created.status_code == 201 and created.data["builtin"] is False

    own = api.post("/api/v1/journal/create", CREATE | {"mistake_tags": ["no_journal"]}, format="json")
    assert own.status_code == 201
    theirs = other_api.post("/api/v1/journal/create", CREATE | {"mistake_tags": ["no_journal"]}, format="json")
    assert theirs.status_code == 400 and "mistake_tags" in theirs.data

    mine = {t["name"] for t in api.get("/api/v1/journal/tags").data["results"]}
    others = {t["name"] for t in other_api.get("/api/v1/journal/tags").data["results"]}
    assert "no_journal" in mine and "no_journal" not in others
    assert len(others) == 15  # the built-ins


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "emotion", "name": "calm"}, "name"),  # already built in
        ({"kind": "mistake", "name": "Bad Luck"}, "name"),
        ({"kind": "mistake", "name": "x" * 17}, "name"),
        ({"kind": "mood", "name": "meh"}, "kind"),
    ],
)
def test_a_bad_or_duplicate_tag_is_a_400_naming_the_field(api, account, body, field):
    before = JournalTag.objects.count()
    response = api.post("/api/v1/journal/tags", body, format="json")
    assert response.status_code == 400 and field in response.data
    assert JournalTag.objects.count() == before


# --- list -------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_list_pages_newest_first_and_filters_by_symbol_and_status(api, account, other_user):
    for i in range(25):
        _journal(account, symbol="AAPL" if i % 2 else "MSFT", journal_status="COMPLETED" if i % 5 == 0 else "DRAFT")
    _journal(other_user.accounts.get(), symbol="AAPL")

    page = api.get("/api/v1/journal/list?page=2&size=10").data
    assert (page["count"], len(page["results"])) == (25, 10) and "page=3" in page["next"]
    ids = [row["id"] for row in api.get("/api/v1/journal/list?size=100").data["results"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 25

    assert api.get("/api/v1/journal/list?symbol=aapl").data["count"] == 12  # odd i
    # COMPLETED when i % 5 == 0 (0, 5, 10, 15, 20); MSFT when i is even: 0, 10, 20
    completed = api.get("/api/v1/journal/list?status=COMPLETED&symbol=MSFT").data
    assert completed["count"] == 3 and {r["journal_status"] for r in completed["results"]} == {"COMPLETED"}
    assert api.get("/api/v1/journal/list?page=9").data["results"] == []


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["page=0", "size=0", "size=501", "page_size=501", "status=DONE", "page=x", "account_id=0"])
def test_list_with_a_bad_query_is_a_400_naming_the_parameter(api, account, query):
    response = api.get(f"/api/v1/journal/list?{query}")
    assert response.status_code == 400 and query.split("=")[0] in response.data


@pytest.mark.django_db
def test_list_of_one_account_and_a_strangers_account_id_is_a_404(api, other_api, account):
    _journal(account)
    assert api.get(f"/api/v1/journal/list?account_id={account.pk}").data["count"] == 1
    assert other_api.get(f"/api/v1/journal/list?account_id={account.pk}").status_code == 404
    assert other_api.get("/api/v1/journal/list").data["count"] == 0


# --- PATCH and the status flow --------------------------------------------------------------


@pytest.mark.django_db
def test_patch_fills_in_the_reflection_and_completes_the_entry(api, account):
    journal = _journal(account)

    response = api.patch(
        f"/api/v1/journal/{journal.pk}",
        {"execution_quality": 4, "emotion_state": "calm", "mistake_tags": ["early_exit"], "lesson_learned": "Hold.",
         "journal_status": "COMPLETED"},
        format="json",
    )

    assert response.status_code == 200, response.data
    journal.refresh_from_db()
    assert (journal.execution_quality, journal.emotion_state, journal.mistake_tags, journal.journal_status) == (
        4, "calm", ["early_exit"], "COMPLETED"
    )
    audit = AuditLog.objects.get(action="journal.update")
    assert audit.payload["journal_status"] == "COMPLETED" and audit.user == account.user


@pytest.mark.django_db
@pytest.mark.parametrize(
    "start, target, allowed",
    [
        ("DRAFT", "COMPLETED", True),
        ("DRAFT", "REVIEWED", False),
        ("COMPLETED", "REVIEWED", True),
        ("COMPLETED", "DRAFT", True),
        ("REVIEWED", "COMPLETED", True),
        ("REVIEWED", "DRAFT", False),
    ],
)
def test_status_transitions(api, account, start, target, allowed):
    journal = _journal(account, journal_status=start)

    response = api.patch(f"/api/v1/journal/{journal.pk}", {"journal_status": target, "notes": "x"}, format="json")

    journal.refresh_from_db()
    if allowed:
        assert response.status_code == 200 and journal.journal_status == target
    else:
        assert response.status_code == 400 and "journal_status" in response.data
        assert (journal.journal_status, journal.notes) == (start, "")  # nothing written


@pytest.mark.django_db
def test_patch_with_an_unknown_emotion_is_a_400_and_changes_nothing(api, account):
    journal = _journal(account, emotion_state="calm")
    response = api.patch(f"/api/v1/journal/{journal.pk}", {"emotion_state": "zen", "notes": "x"}, format="json")
    assert response.status_code == 400 and "emotion_state" in response.data
    journal.refresh_from_db()
    assert (journal.emotion_state, journal.notes) == ("calm", "")


@pytest.mark.django_db
def test_the_facts_of_a_drafted_trade_cannot_be_edited(api, closed_trade):
    response = api.patch(f"/api/v1/journal/{closed_trade.pk}", {"exit_price": "200", "notes": "x"}, format="json")
    assert response.status_code == 400 and list(response.data) == ["exit_price"]
    assert api.patch(f"/api/v1/journal/{closed_trade.pk}", {"notes": "Good trade."}, format="json").status_code == 200


@pytest.mark.django_db
def test_a_stranger_gets_404_on_every_entry_endpoint_and_changes_nothing(api, other_api, account, no_llm):
    journal = _journal(account, notes="mine")
    path = f"/api/v1/journal/{journal.pk}"

    assert api.get(path).status_code == 200
    assert other_api.get(path).status_code == 404
    assert other_api.patch(path, {"notes": "theirs"}, format="json").status_code == 404
    assert other_api.post(f"{path}/ai-review").status_code == 404
    journal.refresh_from_db()
    assert (journal.notes, journal.ai_review, journal.journal_status) == ("mine", None, "DRAFT")
    assert api.get("/api/v1/journal/999999").status_code == 404


@pytest.mark.django_db
def test_journal_schema_documents_every_endpoint(staff_api):
    paths = staff_api.get("/api/schema/?format=json").json()["paths"]
    for path in ("list", "create", "{id}", "{id}/ai-review", "weekly-report", "tags"):
        assert f"/api/v1/journal/{path}" in paths, path
    assert {"502", "503"} <= set(paths["/api/v1/journal/{id}/ai-review"]["post"]["responses"])


@pytest.mark.django_db
def test_a_date_in_the_list_is_an_iso_string(api, account):
    _journal(account, entry_date=dt.date(2026, 3, 2))
    assert api.get("/api/v1/journal/list").data["results"][0]["entry_date"] == "2026-03-02"


@pytest.mark.django_db
def test_the_admin_form_refuses_words_outside_the_owners_vocabulary(account):
    from journal.admin import TradeJournalAdminForm

    base = {"account": account.pk, "symbol": "AAPL", "direction": "LONG", "journal_status": "DRAFT", "notes": ""}
    bad = TradeJournalAdminForm(data=base | {"emotion_state": "zen", "mistake_tags": '["chase_high"]'})
    good = TradeJournalAdminForm(data=base | {"emotion_state": "calm", "mistake_tags": '["chase_high"]'})

    assert not bad.is_valid() and list(bad.errors) == ["emotion_state"]
    assert good.is_valid(), good.errors
