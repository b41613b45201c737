"""``manage.py serve`` on a clock a browser test sets (a test harness; nothing here ships in the app).

The server's clock starts at ``ALPHALOOP_TEST_CLOCK`` (ISO 8601) and ticks from there (time-machine
patches the process's time functions). On SIGUSR1 it jumps to the instant written in the file
``ALPHALOOP_TEST_CLOCK_FILE``; the test then waits until ``GET /api/v1/market/session`` reports it.

    python tests/browser/clocked_serve.py --port 8123
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from pathlib import Path

import time_machine

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    traveller = time_machine.travel(datetime.fromisoformat(os.environ["ALPHALOOP_TEST_CLOCK"]), tick=True)
    clock = traveller.start()
    target = Path(os.environ["ALPHALOOP_TEST_CLOCK_FILE"])
    signal.signal(signal.SIGUSR1, lambda *_: clock.move_to(datetime.fromisoformat(target.read_text().strip()), tick=True))
    sys.path.insert(0, str(ROOT))
    from django.core.management import execute_from_command_line

    execute_from_command_line([str(ROOT / "manage.py"), "serve", *sys.argv[1:]])


if __name__ == "__main__":
    main()
