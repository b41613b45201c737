import signal

from django.conf import settings
from django.core.management import BaseCommand

from marketdata.feeds import FeedRunner, feed_build


class Command(BaseCommand):
    help = "Run the market feed as its own process (production profile); ticks flow through the pipeline."

    def add_arguments(self, parser):
        parser.add_argument("--feed", choices=["synthetic", "replay", "alpaca"], default=None,
                            help="defaults to MARKET_FEED (synthetic when MARKET_FEED=none)")
        parser.add_argument("--interval", type=float, default=None, help="synthetic: seconds between batches")
        parser.add_argument("--speed", type=float, default=None,
                            help="replay: market seconds per real second (the synthetic feed runs in real time)")
        parser.add_argument("--symbols", default="", help="comma-separated; default all active instruments")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--all-hours", action="store_true",
                            help="synthetic: tick outside the NYSE session too (load tests); by default it follows the session")

    def handle(self, *args, feed, interval, speed, symbols, seed, all_hours, **options):
        kind = feed or (settings.MARKET_FEED if settings.MARKET_FEED != "none" else "synthetic")
        chosen = [s.strip().upper() for s in symbols.split(",") if s.strip()] or None
        runner = FeedRunner(lambda: feed_build(kind, interval=interval, speed=speed, symbols=chosen, seed=seed,
                                                      all_hours=all_hours))
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: runner.stop_event.set())
        self.stdout.write(f"Running the {kind} feed; Ctrl-C to stop.")
        runner.start()
        while runner.thread.is_alive():
            runner.thread.join(0.5)
        self.stdout.write("Feed stopped.")
