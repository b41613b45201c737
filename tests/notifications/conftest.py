from __future__ import annotations

import pytest

BOT_TOKEN = "123456789:AAH-test_SECRET-token-value"
CHAT_ID = "4242"


@pytest.fixture(autouse=True)
def _no_real_telegram(settings):
    settings.TELEGRAM_BOT_TOKEN = ""
    settings.TELEGRAM_CHAT_ID = ""
    settings.TELEGRAM_API_URL = "http://127.0.0.1:9"


@pytest.fixture
def telegram(settings, bot_api):
    """Telegram configured against the fake Bot API, with short timeouts and backoff."""
    settings.TELEGRAM_BOT_TOKEN = BOT_TOKEN
    settings.TELEGRAM_CHAT_ID = CHAT_ID
    settings.TELEGRAM_API_URL = bot_api.url
    settings.TELEGRAM_TIMEOUT_SECONDS = 0.5
    settings.TELEGRAM_MAX_RETRIES = 2
    settings.TELEGRAM_BACKOFF_SECONDS = 0.01
    return bot_api


@pytest.fixture
def captured_logs():
    """Every log record, formatted (pytest's logging plugin may be off: -p no:logging)."""
    import logging

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__(level=logging.DEBUG)
            self.messages: list[str] = []

        def emit(self, record):
            self.messages.append(self.format(record))

    handler = Collect()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    loggers = [logging.getLogger(name) for name in ("", "httpx", "httpcore")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    yield handler.messages
    logging.getLogger().removeHandler(handler)
    for logger, level in zip(loggers, levels):
        logger.setLevel(level)
