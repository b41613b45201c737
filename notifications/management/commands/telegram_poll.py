"""Long-poll Telegram's getUpdates and run the trader's commands (/approve TOKEN, /reject TOKEN).

Use this or the webhook (``TELEGRAM_WEBHOOK_SECRET``), not both: Telegram refuses getUpdates
while a webhook is set.
"""

from __future__ import annotations

import logging
import time

from django.core.management.base import BaseCommand, CommandError

from notifications.exceptions import TransportError
from notifications.telegram import TelegramClient, telegram_poll_once

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Poll the Telegram Bot API for replies (/approve TOKEN, /reject TOKEN) and act on them."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One getUpdates round, then exit.")
        parser.add_argument("--poll-seconds", type=int, default=25, help="Long-poll duration of each request.")
        parser.add_argument("--error-pause", type=float, default=5.0, help="Seconds to wait after a failed round.")

    def handle(self, *args, once: bool, poll_seconds: int, error_pause: float, **options):
        if poll_seconds < 0:
            raise CommandError("--poll-seconds must be >= 0")
        try:
            client = TelegramClient.from_settings()
        except TransportError as exc:
            raise CommandError(str(exc)) from exc
        offset: int | None = None
        self.stdout.write("Polling Telegram for commands (Ctrl-C stops).")
        try:
            while True:
                try:
                    offset = telegram_poll_once(client=client, offset=offset, poll_seconds=poll_seconds)
                except TransportError as exc:
                    if exc.permanent:
                        raise CommandError(f"Telegram refused the poll: {exc}") from exc
                    logger.warning("telegram poll failed, retrying in %.0fs: %s", error_pause, exc)
                    if not once:
                        time.sleep(error_pause)
                if once:
                    return
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")
