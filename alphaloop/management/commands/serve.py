"""Serve AlphaLoop on the embedded default: Daphne, embedded Celery beat, the market feed and (with a real broker)
the broker's trade-stream worker in one process."""

from __future__ import annotations

import logging

from celery.beat import EmbeddedService
from channels.routing import get_default_application
from daphne.endpoints import build_endpoint_description_strings
from daphne.server import Server
from django.conf import settings
from django.core.management import BaseCommand

from alphaloop.celery import app as celery_app

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run Daphne with the embedded beat scheduler (and the in-process market feed). Ctrl-C stops all."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--no-beat", action="store_true", help="Do not embed Celery beat")

    def handle(self, *args, host: str, port: int, no_beat: bool, **options):
        beat = None
        if not no_beat:
            # Beat runs due tasks inline only once the task modules are imported;
            # otherwise it falls back to send_task, which ignores eager mode.
            celery_app.loader.import_default_modules()
            beat = EmbeddedService(celery_app, thread=True, scheduler_cls=settings.CELERY_BEAT_SCHEDULER)
            beat.start()
        feed = self._start_feed()
        broker_stream = self._start_broker_stream()
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"AlphaLoop is serving on {url}"))
        self.stdout.write(f"  log in at {url}accounts/login/ as '{settings.ADMIN_USERNAME}'")
        self.stdout.write(f"  admin {url}admin/ · API docs {url}api/docs/ · Ctrl-C to stop")
        try:
            Server(
                application=get_default_application(),
                endpoints=build_endpoint_description_strings(host=host, port=port),
                signal_handlers=True,
                verbosity=0,
            ).run()
        finally:
            if broker_stream is not None:
                broker_stream.stop()
            if feed is not None:
                feed.stop()
            if beat is not None:
                beat.stop()
            self.stdout.write("AlphaLoop stopped.")

    def _start_feed(self):
        if settings.MARKET_FEED == "none":
            return None
        from marketdata.feeds import start_embedded_feed

        return start_embedded_feed(settings.MARKET_FEED)

    def _start_broker_stream(self):
        from orders.brokers.alpaca_stream import broker_stream_build

        worker = broker_stream_build()
        if worker is None:
            return None
        self.stdout.write("  booking the broker's trade updates (Alpaca trade_updates) in this process")
        return worker.start()
