"""The Telegram transport against a local server answering like the Bot API."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction

from marketdata.pipeline import quote_store
from notifications.exceptions import TransportError
from notifications.models import NotificationLog
from notifications.services import notification_send
from notifications.telegram import TelegramClient, telegram_poll_once, telegram_update_handle
from orders.models import Order, TradingPlan
from tests.delivery import committed

from .conftest import BOT_TOKEN, CHAT_ID


def handled(update):
    """One update as the poll loop or the webhook handles it: the command's answer is sent when it ends."""
    with committed():
        return telegram_update_handle(update)


def client(api, **kwargs) -> tuple[TelegramClient, list[float]]:
    waits: list[float] = []
    options = {"timeout": 0.3, "max_retries": 2, "backoff_seconds": 0.5, **kwargs}
    return TelegramClient(token=BOT_TOKEN, api_url=api.url, sleep=waits.append, **options), waits


def test_a_message_is_posted_to_send_message_with_the_chat_and_text(bot_api):
    telegram, waits = client(bot_api)

    result = telegram.send_message(CHAT_ID, "AAPL above 190")

    assert result == {"message_id": 1}
    assert bot_api.requests == [(f"/bot{BOT_TOKEN}/sendMessage", {"chat_id": CHAT_ID, "text": "AAPL above 190"})]
    assert waits == []


def test_a_429_is_retried_after_the_retry_after_it_names(bot_api):
    bot_api.answer(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
                         "parameters": {"retry_after": 3}})
    telegram, waits = client(bot_api)

    assert telegram.send_message(CHAT_ID, "hi") == {"message_id": 1}
    assert waits == [3.0] and len(bot_api.requests) == 2


def test_a_retry_after_beyond_the_cap_fails_at_once_as_transient(bot_api):
    bot_api.answer(429, {"ok": False, "error_code": 429, "description": "slow down", "parameters": {"retry_after": 600}})
    telegram, waits = client(bot_api, max_retry_after=30)

    with pytest.raises(TransportError, match="retry_after 600s is too long") as caught:
        telegram.send_message(CHAT_ID, "hi")
    assert caught.value.permanent is False and waits == [] and len(bot_api.requests) == 1


def test_a_500_is_retried_with_exponential_backoff(bot_api):
    bot_api.answer(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
    bot_api.answer(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"})
    telegram, waits = client(bot_api)

    assert telegram.send_message(CHAT_ID, "hi") == {"message_id": 1}
    assert waits == [0.5, 1.0] and len(bot_api.requests) == 3


def test_a_500_that_persists_fails_after_the_retries_as_transient(bot_api):
    for _ in range(3):
        bot_api.answer(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"})
    telegram, waits = client(bot_api)

    with pytest.raises(TransportError, match="HTTP 500 Internal Server Error.*after 3 attempts") as caught:
        telegram.send_message(CHAT_ID, "hi")
    assert caught.value.permanent is False and waits == [0.5, 1.0] and len(bot_api.requests) == 3


def test_a_timeout_is_retried_and_then_reported(bot_api):
    bot_api.answer(delay=1.0)  # longer than the 0.3 s timeout
    telegram, waits = client(bot_api)
    assert telegram.send_message(CHAT_ID, "hi") == {"message_id": 1}
    assert waits == [0.5]

    for _ in range(3):
        bot_api.answer(delay=1.0)
    telegram, waits = client(bot_api)
    with pytest.raises(TransportError, match="sendMessage: timed out") as caught:
        telegram.send_message(CHAT_ID, "hi")
    assert caught.value.permanent is False and waits == [0.5, 1.0]


def test_a_4xx_is_permanent_and_not_retried(bot_api):
    bot_api.answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    telegram, waits = client(bot_api)

    with pytest.raises(TransportError, match="chat not found") as caught:
        telegram.send_message(CHAT_ID, "hi")
    assert caught.value.permanent is True and waits == [] and len(bot_api.requests) == 1


def test_an_unreachable_api_is_a_transient_failure():
    telegram = TelegramClient(token=BOT_TOKEN, api_url="http://127.0.0.1:9", timeout=0.3, max_retries=1,
                              sleep=lambda _: None)
    with pytest.raises(TransportError, match="connection failed") as caught:
        telegram.send_message(CHAT_ID, "hi")
    assert caught.value.permanent is False


def test_the_bot_token_never_reaches_a_log_or_an_error(bot_api, captured_logs):
    bot_api.answer(500, {"ok": False, "error_code": 500, "description": f"echo /bot{BOT_TOKEN}/sendMessage"})
    bot_api.answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    telegram, _ = client(bot_api)

    with pytest.raises(TransportError) as caught:
        telegram.send_message(CHAT_ID, "hi")

    request_lines = [m for m in captured_logs if "HTTP Request: POST" in m]
    assert len(request_lines) == 2 and all("/bot***/sendMessage" in line for line in request_lines)
    assert not any(BOT_TOKEN in m or BOT_TOKEN.split(":")[1] in m for m in captured_logs)
    assert BOT_TOKEN.split(":")[1] not in str(caught.value)


@pytest.mark.django_db
def test_notification_send_logs_sent_and_failed_attempts(telegram, account, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        sent = notification_send("telegram", "price_alert", "AAPL above 190", "at 190.10", account=account)
    telegram.answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"})
    with django_capture_on_commit_callbacks(execute=True):
        failed = notification_send("telegram", "price_alert", "AAPL above 191", "", account=account)
    sent.refresh_from_db()
    failed.refresh_from_db()

    assert (sent.channel, sent.status, sent.error) == ("telegram", "SENT", "")
    assert failed.status == "FAILED" and "chat not found" in failed.error and "permanent" in failed.error
    assert telegram.calls("sendMessage")[0] == {"chat_id": CHAT_ID, "text": "AAPL above 190\nat 190.10"}


@pytest.mark.django_db(transaction=True)
def test_telegram_is_sent_only_after_the_callers_transaction_commits(telegram, account):
    with transaction.atomic():
        row = notification_send("telegram", "order_filled", "Filled", "", account=account)
        assert row.status == NotificationLog.PENDING
        assert telegram.requests == []

    row.refresh_from_db()
    assert row.status == NotificationLog.SENT and len(telegram.calls("sendMessage")) == 1


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_sends_nothing(telegram, account):
    with pytest.raises(RuntimeError), transaction.atomic():
        notification_send("telegram", "order_filled", "Filled", "", account=account)
        raise RuntimeError("the order failed after all")

    assert telegram.requests == [] and not NotificationLog.objects.exists()


# --- replies -----------------------------------------------------------------------


def update(text: str, *, chat: str = CHAT_ID, update_id: int = 500) -> dict:
    return {"update_id": update_id, "message": {"message_id": 9, "chat": {"id": int(chat), "type": "private"}, "text": text}}


@pytest.fixture
def pending_approval(account, instrument_factory, settings):
    settings.TRADING_HOURS_ONLY = False
    instrument_factory("AAPL")
    quote_store(symbol="AAPL", price=Decimal("190"))
    plan = TradingPlan.objects.create(account=account, symbol="AAPL", direction="LONG", quantity=Decimal("5"),
                                      entry_price=Decimal("190"), order_type="MARKET")
    from orders.approvals import approval_request_create

    return approval_request_create(plan=plan, source="alert:1", reason="test")


@pytest.mark.django_db
def test_approve_from_the_configured_chat_executes_the_plan_and_replies(telegram, pending_approval):
    outcome = handled(update(f"/approve {pending_approval.token.lower()}"))

    pending_approval.refresh_from_db()
    assert outcome.handled and pending_approval.status == "APPROVED" and pending_approval.decided_via == "telegram"
    order = Order.objects.get()
    assert pending_approval.order_id == order.pk and order.source == "APPROVAL"
    replies = [call for call in telegram.calls("sendMessage") if call["text"].startswith("Approved")]
    assert [reply["chat_id"] for reply in replies] == [CHAT_ID]
    assert replies[0]["text"].startswith(f"Approved {pending_approval.token}: order #{order.pk}")


@pytest.mark.django_db
def test_reject_without_a_slash_is_understood_too(telegram, pending_approval):
    handled(update(f"reject {pending_approval.token}"))

    pending_approval.refresh_from_db()
    assert pending_approval.status == "REJECTED" and not Order.objects.exists()
    assert telegram.calls("sendMessage")[-1]["text"].startswith(f"Rejected {pending_approval.token}")


@pytest.mark.django_db
def test_a_message_from_another_chat_is_ignored(telegram, pending_approval):
    outcome = handled(update(f"/approve {pending_approval.token}", chat="666"))

    pending_approval.refresh_from_db()
    assert not outcome.handled and outcome.reason == "foreign chat"
    assert pending_approval.status == "PENDING" and telegram.requests == []


@pytest.mark.django_db
def test_a_second_decision_is_answered_not_applied(telegram, pending_approval):
    handled(update(f"/reject {pending_approval.token}"))
    handled(update(f"/approve {pending_approval.token}"))

    pending_approval.refresh_from_db()
    assert pending_approval.status == "REJECTED" and not Order.objects.exists()
    assert "already REJECTED" in telegram.calls("sendMessage")[-1]["text"]


@pytest.mark.django_db
def test_unknown_tokens_and_commands_get_a_helpful_reply(telegram, pending_approval):
    handled(update("/approve NOPE1234"))
    handled(update("/buy AAPL"))
    handled(update("hello there"))  # chatter: no reply

    texts = [call["text"] for call in telegram.calls("sendMessage")]
    assert texts == ["No approval request NOPE1234.", "Unknown command /buy. Known: /approve, /reject"]


@pytest.mark.django_db
def test_polling_get_updates_handles_commands_and_confirms_them(telegram, pending_approval):
    telegram.answer(body={"ok": True, "result": [update(f"/approve {pending_approval.token}", update_id=77)]},
                    method="getUpdates")
    telegram_client = TelegramClient.from_settings()

    with committed():
        offset = telegram_poll_once(client=telegram_client, offset=None, poll_seconds=0)

    assert offset == 78
    assert telegram.calls("getUpdates")[0] == {"timeout": 0, "allowed_updates": ["message"]}
    pending_approval.refresh_from_db()
    assert pending_approval.status == "APPROVED"


@pytest.mark.django_db
def test_the_poll_command_runs_one_round(telegram, pending_approval):
    telegram.answer(body={"ok": True, "result": [update(f"/reject {pending_approval.token}")]}, method="getUpdates")

    with committed():
        call_command("telegram_poll", "--once", "--poll-seconds", "0")

    pending_approval.refresh_from_db()
    assert pending_approval.status == "REJECTED"


@pytest.mark.django_db
def test_the_webhook_needs_its_secret_and_then_acts(client, telegram, pending_approval, settings):
    path = "/api/v1/notifications/telegram/webhook/"
    body = update(f"/approve {pending_approval.token}")

    settings.TELEGRAM_WEBHOOK_SECRET = ""
    assert client.post(path + "anything", body, content_type="application/json").status_code == 401
    settings.TELEGRAM_WEBHOOK_SECRET = "hook-secret-123"
    assert client.post(path + "wrong", body, content_type="application/json").status_code == 401
    assert client.post(path + "hook-secret-123", {"nope": 1}, content_type="application/json").status_code == 400
    pending_approval.refresh_from_db()
    assert pending_approval.status == "PENDING"

    with committed():
        response = client.post(path + "hook-secret-123", body, content_type="application/json")

    assert response.status_code == 200 and response.json() == {"ok": True, "handled": True}
    pending_approval.refresh_from_db()
    assert pending_approval.status == "APPROVED" and pending_approval.decided_via == "telegram"
