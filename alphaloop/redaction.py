"""Credentials never reach a log line: a logging filter that masks them in every record it passes.

Masked: JWTs (access and refresh), WebSocket tickets, Telegram bot tokens, the Telegram webhook's
secret path segment, query strings of logged URLs, and the configured secret values themselves
(``SECRET_KEY``, ``JWT_SIGNING_KEY``, ``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_WEBHOOK_SECRET``,
``OPENAI_API_KEY``, ``ALPACA_API_KEY``, ``ALPACA_SECRET_KEY``). ``settings.LOGGING`` puts the filter on the console handler, so the request log
(``django.request``, ``django.channels.server`` under ``runserver``), httpx and every app logger are
covered. ``tests/hardening/test_security.py`` logs in, refreshes, connects a WebSocket with a token,
sends a Telegram message and calls the webhook, and finds none of the secrets in the output.
"""

from __future__ import annotations

import logging
import re

from django.conf import settings

MASK = "[redacted]"
SECRET_SETTINGS = ("SECRET_KEY", "JWT_SIGNING_KEY", "TELEGRAM_BOT_TOKEN", "TELEGRAM_WEBHOOK_SECRET", "OPENAI_API_KEY",
                   "ALPACA_API_KEY", "ALPACA_SECRET_KEY")
PATTERNS = (
    # A JWT: base64url header and payload (both JSON objects, so "eyJ"), then the signature.
    (re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
    (re.compile(r"wst_[A-Za-z0-9_-]+"), "wst_" + MASK),
    # A Telegram bot token: "<bot id>:<35 characters>".
    (re.compile(r"(?<![0-9])\d{5,}:[A-Za-z0-9_-]{30,}"), MASK),
    (re.compile(r"(/telegram/webhook/)[^/\s\"'?]+"), r"\g<1>" + MASK),
    # The query string of a logged URL or path ("GET /ws/trading?token=...").
    (re.compile(r"((?:https?://[^\s/\"']+)?/[^\s?\"']*)\?[^\s\"']+"), r"\g<1>?" + MASK),
)


def redact(text: str) -> str:
    for pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    for name in SECRET_SETTINGS:
        value = str(getattr(settings, name, "") or "")
        if len(value) >= 8 and value in text:
            text = text.replace(value, MASK)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrite the record's message (and traceback) with every credential masked; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that do not fit the format: leave the record as it is
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
