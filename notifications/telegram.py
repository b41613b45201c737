"""Telegram Bot API over HTTPS (httpx): sending messages, and reading the trader's replies.

Sending retries transient failures (timeouts, connection errors, 5xx) with exponential
backoff and honours a 429's ``parameters.retry_after``; any other 4xx is permanent. The bot
token is part of every URL, so nothing here ever logs a raw URL: :class:`TokenMaskFilter`
scrubs it from httpx's own request log too.

Replies (``/approve TOKEN``, ``/reject TOKEN``) arrive by polling ``getUpdates``
(``manage.py telegram_poll``) or through the webhook view. notifications knows nothing of
orders: a command is published as a ``ChatCommand`` event on the spine, and the app that handles it
answers with a ``ChatReplied`` event, which the notifications subscriber sends to the chat.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings

from alphaloop import bus
from alphaloop.events import ChatCommand, ChatReplied
from notifications.exceptions import TransportError

logger = logging.getLogger(__name__)

MAX_MESSAGE_LENGTH = 4096
BOT_TOKEN_PATTERN = re.compile(r"bot\d+:[A-Za-z0-9_-]+")
# "/approve AB12CD34", "/approve@MyBot AB12CD34", or a registered command without the slash.
COMMAND_PATTERN = re.compile(r"^(?P<slash>/?)(?P<command>[a-z_]+)(?:@\w+)?(?:\s+(?P<args>.*))?$", re.IGNORECASE | re.DOTALL)


def mask_token(text: str, token: str = "") -> str:
    """``text`` with any bot token (``bot<id>:<secret>``, or ``token`` itself) replaced by ``***``."""
    masked = BOT_TOKEN_PATTERN.sub("bot***", text)
    return masked.replace(token, "***") if token else masked


class TokenMaskFilter(logging.Filter):
    """Scrubs bot tokens from log records (httpx logs every request URL at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "bot" in message:
            record.msg = mask_token(message, settings.TELEGRAM_BOT_TOKEN)
            record.args = None
        return True


def token_mask_filter_install() -> None:
    """Attach :class:`TokenMaskFilter` to httpx's request logger and ours (idempotent).

    httpcore's debug records name only the host, never the path that holds the token.
    """
    for name in ("httpx", __name__):
        target = logging.getLogger(name)
        if not any(isinstance(existing, TokenMaskFilter) for existing in target.filters):
            target.addFilter(TokenMaskFilter())


@dataclass
class TelegramClient:
    """A minimal Bot API client. ``sleep`` is injectable so tests need not wait for backoff."""

    token: str
    api_url: str = "https://api.telegram.org"
    timeout: float = 5.0
    max_retries: int = 3
    backoff_seconds: float = 0.5
    max_retry_after: float = 30.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    @classmethod
    def from_settings(cls) -> TelegramClient:
        token = settings.TELEGRAM_BOT_TOKEN
        if not token:
            raise TransportError("TELEGRAM_BOT_TOKEN is not set", permanent=True)
        return cls(
            token=token,
            api_url=settings.TELEGRAM_API_URL.rstrip("/"),
            timeout=float(settings.TELEGRAM_TIMEOUT_SECONDS),
            max_retries=settings.TELEGRAM_MAX_RETRIES,
            backoff_seconds=float(settings.TELEGRAM_BACKOFF_SECONDS),
            max_retry_after=float(settings.TELEGRAM_MAX_RETRY_AFTER_SECONDS),
        )

    def send_message(self, chat_id: str, text: str) -> dict[str, Any]:
        if not chat_id:
            raise TransportError("TELEGRAM_CHAT_ID is not set", permanent=True)
        return self.call("sendMessage", {"chat_id": chat_id, "text": text[:MAX_MESSAGE_LENGTH]})

    def get_updates(self, *, offset: int | None, poll_seconds: int = 25) -> list[dict[str, Any]]:
        payload: dict[str, Any] = {"timeout": poll_seconds, "allowed_updates": ["message"]}
        if offset is not None:
            payload["offset"] = offset
        return self.call("getUpdates", payload, timeout=self.timeout + poll_seconds)

    def call(self, method: str, payload: dict[str, Any], *, timeout: float | None = None) -> Any:
        """POST ``method``; the ``result`` on success, :class:`TransportError` once retries are spent."""
        url = f"{self.api_url}/bot{self.token}/{method}"
        attempts = self.max_retries + 1
        last_error = ""
        with httpx.Client(timeout=timeout or self.timeout) as client:
            for attempt in range(attempts):
                wait = self.backoff_seconds * (2**attempt)
                try:
                    response = client.post(url, json=payload)
                except httpx.TimeoutException:
                    last_error = f"{method}: timed out"
                except httpx.TransportError as exc:
                    last_error = f"{method}: connection failed: {self._mask(str(exc))}"
                else:
                    body = self._json(response)
                    if response.status_code == 200 and body.get("ok"):
                        return body.get("result")
                    description = self._mask(str(body.get("description") or response.reason_phrase))
                    last_error = f"{method}: HTTP {response.status_code} {description}"
                    if response.status_code == 429:
                        retry_after = float((body.get("parameters") or {}).get("retry_after") or wait)
                        if retry_after > self.max_retry_after:
                            raise TransportError(f"{last_error}; retry_after {retry_after:g}s is too long")
                        wait = retry_after
                    elif response.status_code < 500:
                        raise TransportError(last_error, permanent=True)
                if attempt + 1 < attempts:
                    logger.warning("telegram %s, retry %d/%d in %.2fs", last_error, attempt + 1, self.max_retries, wait)
                    self.sleep(wait)
        raise TransportError(f"{last_error} (after {attempts} attempts)")

    def _mask(self, text: str) -> str:
        return mask_token(text, self.token)

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}


# --- replies: commands from the configured chat ---------------------------------


@dataclass(frozen=True)
class UpdateOutcome:
    update_id: int | None
    handled: bool
    reason: str = ""


def telegram_update_handle(update: dict[str, Any]) -> UpdateOutcome:
    """Publish the command in one Bot API update as a ``ChatCommand``, if it comes from ``TELEGRAM_CHAT_ID``.

    Messages from any other chat are ignored (and logged): only the configured trader may approve. A command
    outside the chat's vocabulary (``ChatCommand.COMMANDS``) gets the list of known ones.
    """
    update_id = update.get("update_id") if isinstance(update.get("update_id"), int) else None
    message = update.get("message") or update.get("edited_message")
    if not isinstance(message, dict):
        return UpdateOutcome(update_id, False, reason="no message")
    chat_id = str((message.get("chat") or {}).get("id", ""))
    expected_chat = str(settings.TELEGRAM_CHAT_ID or "")
    if not expected_chat or chat_id != expected_chat:
        logger.warning("telegram update %s from chat %s ignored: not TELEGRAM_CHAT_ID", update_id, chat_id)
        return UpdateOutcome(update_id, False, reason="foreign chat")
    match = COMMAND_PATTERN.match(str(message.get("text") or "").strip())
    command = match["command"].lower() if match else ""
    known = command in ChatCommand.COMMANDS
    if not match or (not known and not match["slash"]):
        return UpdateOutcome(update_id, False, reason="not a command")
    if not known:
        reply = f"Unknown command /{command}. Known: " + ", ".join(f"/{name}" for name in ChatCommand.COMMANDS)
        bus.publish(ChatReplied(chat_id=chat_id, text=reply))
        return UpdateOutcome(update_id, False, reason="unknown command")
    bus.publish(ChatCommand(command=command, args=(match["args"] or "").strip(), chat_id=chat_id))
    return UpdateOutcome(update_id, True)


def telegram_poll_once(*, client: TelegramClient, offset: int | None, poll_seconds: int = 25) -> int | None:
    """One ``getUpdates`` round: handle each update, return the offset that confirms them."""
    updates = client.get_updates(offset=offset, poll_seconds=poll_seconds)
    for update in updates or []:
        outcome = telegram_update_handle(update)
        if outcome.update_id is not None:
            offset = max(offset or 0, outcome.update_id + 1)
    return offset
