"""Run the real broker's trade-stream worker as its own process (the Procfile's ``broker`` line).

    manage.py run_broker_stream

Alpaca's ``trade_updates`` become order transitions and fills in the ledger, with a REST catch-up after every
(re)connect (``orders.brokers.alpaca_stream``). Ctrl-C or SIGTERM stops it. Without a real broker (PAPER mode)
it says so and waits for the signal, so the Procfile's other processes keep running.
"""

from __future__ import annotations

import signal
import threading

from django.core.management import BaseCommand, CommandError

from orders.brokers.alpaca_stream import broker_stream_build


class Command(BaseCommand):
    help = "Book the real broker's trade updates (Alpaca's trade_updates stream) into the ledger; Ctrl-C stops it."

    def handle(self, *args, **options):
        stopping = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stopping.set())
        worker = broker_stream_build()
        if worker is None:
            # Idle rather than exit: a process manager (honcho) stops every process when one exits.
            self.stdout.write("No real broker with a trade stream is configured (set ORDER_MODE=REAL and "
                              "BROKER=alpaca): nothing to book. Waiting for Ctrl-C.", ending="\n")
            self.stdout.flush()
            stopping.wait()
            return
        worker.start()
        self.stdout.write("Booking Alpaca's trade updates; Ctrl-C to stop.")
        while not stopping.wait(0.5):
            if not worker.alive:
                raise CommandError("The trade-stream worker stopped; see the log.")
        worker.stop()
        self.stdout.write("Trade stream stopped.")
