"""AI review and weekly report through the one LLM module, against a local chat-completions server."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from alphaloop.models import AuditLog
from journal.models import TradeJournal
from journal.review import RULE_BASED_LABEL, RULE_BASED_WEEKLY_LABEL


def _reflect(journal: TradeJournal) -> TradeJournal:
    journal.emotion_state = "greedy"
    journal.mistake_tags = ["sell_fly"]
    journal.execution_quality = 4
    journal.lesson_learned = "Let the runner hit the 115 target."
    journal.notes = "Took profit at 111 because of a red candle."
    journal.journal_status = TradeJournal.COMPLETED
    journal.save()
    return journal


def _facts_sent(request: dict) -> dict:
    user_message = request["json"]["messages"][1]["content"]
    return json.loads(user_message.split("\n", 1)[1])


# --- the LLM path -----------------------------------------------------------------------


@pytest.mark.django_db
def test_ai_review_sends_the_trades_facts_and_stores_the_answer(api, closed_trade, llm):
    journal = _reflect(closed_trade)

    response = api.post(f"/api/v1/journal/{journal.pk}/ai-review")

    assert response.status_code == 200, response.data
    assert response.data["ai_review"] == llm.answer
    journal.refresh_from_db()
    assert (journal.ai_review, journal.ai_review_source, journal.journal_status) == (llm.answer, "llm", "REVIEWED")

    (request,) = llm.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == "Bearer sk-test-local"
    assert request["json"]["model"] == "local-model"
    facts = _facts_sent(request)
    assert (facts["symbol"], facts["direction"], facts["entry_price"], facts["exit_price"]) == (
        "ACME", "LONG", "101.000000", "111.000000"
    )
    assert (facts["realized_pnl"], facts["r_multiple"], facts["holding_days"], facts["trade_return"]) == (
        "498.00", "2.00", 3, "0.0990"
    )
    assert facts["plan"]["stop"] == "95.000000" and facts["plan"]["target"] == "115.000000"
    assert facts["plan_adherence"] == {
        "direction_matches": True, "stop_respected": True, "target_reached": False, "entry_slippage": "0.0100",
        "followed": True,
    }
    assert facts["signal"]["win_rate"] == "0.5800" and facts["signal"]["factors"]["mom_12_1"] == 1.2
    assert facts["indicators"]["entry"]["rsi_14"] is not None and facts["indicators"]["exit"]["macd_hist"] is not None
    assert (facts["emotion_state"], facts["mistake_tags"], facts["execution_quality"]) == ("greedy", ["sell_fly"], 4)
    assert facts["lesson_learned"] == "Let the runner hit the 115 target."
    assert facts["notes"] == "Took profit at 111 because of a red candle."
    assert AuditLog.objects.get(action="journal.ai_review").payload["source"] == "llm"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "mode, status, code",
    [
        ("sleep", 503, "llm_unavailable"),  # the server answers after 1.5 s; the client waits 0.3 s
        ("500", 502, "llm_bad_response"),
        ("not_json", 502, "llm_bad_response"),
        ("no_choices", 502, "llm_bad_response"),
    ],
)
def test_an_llm_failure_is_a_clear_error_and_leaves_the_journal_untouched(api, closed_trade, llm, mode, status, code):
    journal = _reflect(closed_trade)
    before = TradeJournal.objects.filter(pk=journal.pk).values().get()
    llm.mode = mode

    response = api.post(f"/api/v1/journal/{journal.pk}/ai-review")

    assert response.status_code == status
    assert response.data["code"] == code and response.data["detail"]
    assert TradeJournal.objects.filter(pk=journal.pk).values().get() == before
    assert not AuditLog.objects.filter(action="journal.ai_review").exists()
    assert len(llm.requests) == 1


@pytest.mark.django_db
def test_an_unreachable_llm_server_is_a_503(api, closed_trade, llm, settings):
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # discard port: connection refused

    response = api.post(f"/api/v1/journal/{closed_trade.pk}/ai-review")

    assert (response.status_code, response.data["code"]) == (503, "llm_unavailable")
    closed_trade.refresh_from_db()
    assert (closed_trade.ai_review, closed_trade.journal_status) == (None, "DRAFT")


@pytest.mark.django_db
def test_the_configured_retries_recover_from_a_transient_500(api, closed_trade, llm, settings):
    settings.OPENAI_MAX_RETRIES = 1
    llm.fail_first = 1

    response = api.post(f"/api/v1/journal/{closed_trade.pk}/ai-review")

    assert response.status_code == 200 and response.data["ai_review_source"] == "llm"
    assert len(llm.requests) == 2


# --- without an API key ------------------------------------------------------------------


@pytest.mark.django_db
def test_without_an_api_key_the_review_is_rule_based_from_the_same_facts(api, closed_trade, no_llm):
    journal = _reflect(closed_trade)

    response = api.post(f"/api/v1/journal/{journal.pk}/ai-review")

    assert response.status_code == 200
    text = response.data["ai_review"]
    assert text.startswith(RULE_BASED_LABEL)
    assert "Outcome: win on LONG ACME, P&L 498.00 (9.90%), held 3 day(s)." in text
    assert "Plan followed: R multiple 2.00; direction as planned; exited before the target" in text
    assert "historical win rate 0.5800" in text
    assert "Emotion: greedy. A state that often leads to impulsive decisions." in text
    assert "Let the plan's target or a trailing stop take you out instead of a feeling." in text  # sell_fly
    assert "Your lesson: Let the runner hit the 115 target." in text
    journal.refresh_from_db()
    assert (journal.ai_review_source, journal.journal_status) == ("rule_based", "REVIEWED")
    assert api.post(f"/api/v1/journal/{journal.pk}/ai-review").data["ai_review"] == text  # deterministic


@pytest.mark.django_db
def test_rule_based_review_flags_a_trade_that_broke_its_plan(api, account, no_llm):
    from orders.models import TradingPlan

    plan = TradingPlan.objects.create(account=account, symbol="XYZ", direction="LONG", entry_price=Decimal("50"),
                                      stop_price=Decimal("48"), quantity=Decimal("10"))
    journal = TradeJournal.objects.create(
        account=account, symbol="XYZ", direction="LONG", plan=plan, entry_price=Decimal("50"),
        exit_price=Decimal("45"), entry_date=dt.date(2026, 3, 2), exit_date=dt.date(2026, 3, 3),
        realized_pnl=Decimal("-50.00"), mistake_tags=["no_stop"],
    )

    text = api.post(f"/api/v1/journal/{journal.pk}/ai-review").data["ai_review"]

    assert "Plan NOT followed: R multiple -2.50; direction as planned; loss beyond the planned stop" in text
    assert "Place the stop with the entry order, every time." in text


# --- weekly report -------------------------------------------------------------------------


@pytest.fixture
def week(account):
    """Four trades closed in the ISO week of Wed 2026-03-04, one the week before."""
    from orders.models import TradingPlan

    plan = TradingPlan.objects.create(account=account, symbol="AAA", direction="LONG", entry_price=Decimal("10"),
                                      stop_price=Decimal("9"), target_price=Decimal("13"), quantity=Decimal("100"))

    def make(symbol, pnl, exit_day, **fields):
        return TradeJournal.objects.create(
            account=account, symbol=symbol, direction="LONG", realized_pnl=Decimal(pnl), exit_date=exit_day,
            entry_date=exit_day - dt.timedelta(days=1), entry_price=Decimal("10"), exit_price=Decimal("12"), **fields,
        )

    make("AAA", "200.00", dt.date(2026, 3, 2), plan=plan, emotion_state="calm")  # +2R, followed
    make("BBB", "-150.00", dt.date(2026, 3, 3), emotion_state="fomo", mistake_tags=["chase_high", "oversize"])
    make("CCC", "-50.00", dt.date(2026, 3, 6), emotion_state="fomo", mistake_tags=["chase_high"])
    make("DDD", "80.00", dt.date(2026, 3, 8), plan=plan, mistake_tags=["ignored_plan"])  # Sunday, still the week
    make("EEE", "999.00", dt.date(2026, 2, 27))  # previous week


@pytest.mark.django_db
def test_weekly_report_aggregates_the_iso_week(api, account, week, no_llm):
    response = api.get("/api/v1/journal/weekly-report?date=2026-03-04")

    assert response.status_code == 200, response.data
    report = response.data
    assert (report["week_start"], report["week_end"]) == ("2026-03-02", "2026-03-08")
    assert (report["trades"], report["wins"], report["losses"], report["win_rate"], report["total_pnl"]) == (
        4, 2, 2, "0.5000", "80.00"
    )
    assert report["best_trade"]["symbol"] == "AAA" and report["worst_trade"]["symbol"] == "BBB"
    assert [(m["tag"], m["count"], m["pnl"]) for m in report["mistakes"]] == [
        ("chase_high", 2, "-200.00"), ("ignored_plan", 1, "80.00"), ("oversize", 1, "-150.00")
    ]
    assert [(e["emotion"], e["trades"], e["wins"], e["win_rate"], e["pnl"]) for e in report["emotions"]] == [
        ("fomo", 2, 0, "0.0000", "-200.00"), ("calm", 1, 1, "1.0000", "200.00"), ("unrecorded", 1, 1, "1.0000", "80.00")
    ]
    assert report["plan_adherence"] == {
        "with_plan": 2, "followed": 1, "rate": "0.5000", "pnl_followed": "200.00", "pnl_not_followed": "80.00"
    }
    assert report["average_r"] == "2.00"
    assert report["narrative_source"] == "rule_based"
    narrative = report["narrative"]
    assert narrative.startswith(RULE_BASED_WEEKLY_LABEL)
    assert "4 closed trade(s), P&L 80.00, win rate 50.00% (2 won, 2 lost)." in narrative
    assert "Most frequent: chase_high" in narrative
    assert "Trades taken feeling fomo lost money" in narrative


@pytest.mark.django_db
def test_weekly_report_narrative_from_the_llm_carries_the_aggregates(api, account, week, llm):
    llm.answer = "A week of FOMO entries."

    report = api.get("/api/v1/journal/weekly-report?date=2026-03-08").data

    assert (report["narrative"], report["narrative_source"]) == ("A week of FOMO entries.", "llm")
    content = llm.requests[0]["json"]["messages"][1]["content"]
    assert '"total_pnl": "80.00"' in content and '"chase_high"' in content and '"DDD"' in content
    assert "EEE" not in content


@pytest.mark.django_db
def test_weekly_report_llm_failure_is_a_503(api, account, week, llm):
    llm.mode = "sleep"
    response = api.get("/api/v1/journal/weekly-report?date=2026-03-04")
    assert (response.status_code, response.data["code"]) == (503, "llm_unavailable")


@pytest.mark.django_db
def test_an_empty_week_does_not_call_the_llm(api, account, llm):
    report = api.get("/api/v1/journal/weekly-report?date=2026-03-04").data
    assert report["trades"] == 0 and report["narrative_source"] == "rule_based"
    assert "No closed trades in the week 2026-03-02 to 2026-03-08." in report["narrative"]
    assert llm.requests == []


@pytest.mark.django_db
def test_weekly_report_is_scoped_to_the_user(other_api, account, week, no_llm):
    assert other_api.get("/api/v1/journal/weekly-report?date=2026-03-04").data["trades"] == 0
    assert other_api.get(f"/api/v1/journal/weekly-report?account_id={account.pk}").status_code == 404


@pytest.mark.django_db
def test_weekly_report_with_a_bad_date_is_a_400(api, account):
    response = api.get("/api/v1/journal/weekly-report?date=2026-13-01")
    assert response.status_code == 400 and "date" in response.data
