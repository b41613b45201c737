"""Time a walk-forward: 10 windows x 50 combinations of sma_cross on one symbol.

    .venv/bin/python benchmarks/walkforward_bench.py [--workers 2] [--redis-url redis://127.0.0.1:6379/6]

882 sessions of synthetic daily bars for one symbol (and SPY) on a throw-away SQLite database;
train 252 sessions, test 63, step 63: 10 windows, each optimising fast in {3..40} x slow in
{50..200} (50 combinations) and trading the winner out of sample. 500 in-sample backtests.

1. Embedded (``make run``): the windows' Celery tasks run eagerly, one after the other, in the
   process that created the walk-forward.
2. Workers: the same walk-forward queued on Redis to ``--workers`` ``celery worker`` processes
   (concurrency 1 each), timed from its creation to SUCCEEDED. Skipped when Redis does not answer.
   Give it a Redis database of its own: the queue is purged first.

Both runs must choose the same parameters in every window and end at the same equity.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
GRID = {"fast": [3, 5, 8, 10, 12, 15, 20, 25, 30, 40], "slow": [50, 75, 100, 150, 200]}
TRAIN, TEST, SESSIONS = 252, 63, 882


def env_for(db: Path, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DJANGO_SETTINGS_MODULE="alphaloop.settings", DEBUG="false", DATABASE_URL=f"sqlite:///{db}",
               SECRET_KEY="walkforward-bench-secret-key-0123456789-abcdefghij",
               JWT_SIGNING_KEY="walkforward-bench-jwt-key-0123456789-abcdefghijklmnop",
               ALPHALOOP_VAR_DIR=str(db.parent), ALPHALOOP_ENV_FILE=str(db.parent / "none.env"), MARKET_FEED="none",
               LOG_LEVEL="WARNING", PYTHONUNBUFFERED="1")
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def phase(name: str, db: Path, redis_url: str | None = None) -> dict:
    out = subprocess.run([PYTHON, __file__, "--phase", name, "--db", str(db)], env=env_for(db, redis_url), cwd=ROOT,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def redis_answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
            return True
    except OSError:
        return False


def start_worker(env: dict[str, str], log: Path, name: str) -> subprocess.Popen:
    handle = open(log, "wb")
    proc = subprocess.Popen([PYTHON, "-m", "celery", "-A", "alphaloop", "worker", "-l", "info", "-P", "prefork", "-c", "1",
                             "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"worker {name} did not start:\n{log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        inner(args.phase, Path(args.db))
        return
    with tempfile.TemporaryDirectory(prefix="walkforward-bench-") as tmp:
        db = Path(tmp) / "bench.sqlite3"
        setup = phase("setup", db)
        print(f"{setup['symbol']}: {setup['sessions']} sessions {setup['start']} to {setup['end']}; train {TRAIN}, test {TEST}, "
              f"step {TEST}; grid {len(GRID['fast'])} x {len(GRID['slow'])} = 50 combinations")
        embedded = phase("embedded", db)
        print(f"embedded (eager Celery, one process): {embedded['windows']} windows x {embedded['combinations']} combinations "
              f"= {embedded['backtests']} backtests in {embedded['seconds']:.2f} s "
              f"({embedded['backtests'] / embedded['seconds']:.0f} backtests/s); final equity {embedded['final_equity']:,.2f}")
        if not redis_answers(args.redis_url):
            print(f"workers: skipped, Redis does not answer at {args.redis_url}")
            return
        env = env_for(db, args.redis_url)
        subprocess.run([PYTHON, "-m", "celery", "-A", "alphaloop", "purge", "-f"], env=env, cwd=ROOT, check=True,
                       capture_output=True)
        workers = [start_worker(env, Path(tmp) / f"worker{i}.log", f"bench{i}") for i in range(args.workers)]
        try:
            queued = phase("queued", db, args.redis_url)
        finally:
            for worker in workers:
                stop(worker)
        done = [sum(1 for line in (Path(tmp) / f"worker{i}.log").read_text(errors="replace").splitlines()
                    if "walk_forward_window_task[" in line and line.endswith(" received")) for i in range(args.workers)]
        print(f"{args.workers} Celery workers on Redis: {queued['windows']} windows in {queued['seconds']:.2f} s "
              f"({queued['backtests'] / queued['seconds']:.0f} backtests/s, {embedded['seconds'] / queued['seconds']:.2f}x "
              f"as fast as the embedded run); windows per worker {done}")
        same = queued["chosen"] == embedded["chosen"] and queued["final_equity"] == embedded["final_equity"]
        print(f"same parameters in every window and the same final equity: {same}")
        if not same:
            raise SystemExit("the queued walk-forward disagrees with the embedded one")


def inner(name: str, db: Path) -> None:
    """One phase, in a process configured by its environment (embedded, or with Redis)."""
    import django

    sys.path.insert(0, str(ROOT))
    django.setup()
    from datetime import date
    from decimal import Decimal

    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import transaction

    from backtest.models import WalkForwardRun
    from backtest.services import RunSpec, WalkForwardSpec, backtest_walk_forward_create
    from marketdata import calendar
    from marketdata.services import bars_import

    if name == "setup":
        call_command("migrate", verbosity=0)
        sessions = calendar.sessions_between(date(2020, 1, 2), date(2024, 12, 31))[:SESSIONS]
        rng = np.random.default_rng(11)
        for symbol, drift in (("SYN", 0.0004), ("SPY", 0.0003)):
            close = 100 * np.exp(np.cumsum(rng.normal(drift, 0.015, len(sessions))))
            opens = np.concatenate([[close[0]], close[:-1]]) * np.exp(rng.normal(0, 0.004, len(sessions)))
            rows = [{"date": day, "open": Decimal(f"{o:.4f}"), "high": Decimal(f"{max(o, c) * 1.004:.4f}"),
                     "low": Decimal(f"{min(o, c) * 0.996:.4f}"), "close": Decimal(f"{c:.4f}"), "adj_close": None,
                     "volume": 2_000_000} for day, o, c in zip(sessions, opens, close, strict=True)]
            bars_import(symbol=symbol, rows=rows, is_synthetic=True)
        get_user_model().objects.create_user("bench", password="walkforward-bench")
        print(json.dumps({"symbol": "SYN", "sessions": len(sessions), "start": str(sessions[0]), "end": str(sessions[-1])}))
        return
    sessions = calendar.sessions_between(date(2020, 1, 2), date(2024, 12, 31))[:SESSIONS]
    spec = WalkForwardSpec(run=RunSpec("sma_cross", {"allow_short": False}, ["SYN"], sessions[0], sessions[-1],
                                       Decimal(100000), Decimal("0.001")),
                           grid=GRID, train_days=TRAIN, test_days=TEST, objective="sharpe")
    user = get_user_model().objects.get(username="bench")
    started = time.perf_counter()
    with transaction.atomic():
        run = backtest_walk_forward_create(user=user, spec=spec)
    while WalkForwardRun.objects.get(pk=run.pk).status not in ("SUCCEEDED", "FAILED"):
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    run.refresh_from_db()
    if run.status != "SUCCEEDED":
        raise SystemExit(f"walk-forward failed: {run.error}")
    windows = list(run.windows.order_by("index"))
    print(json.dumps({
        "seconds": seconds, "windows": len(windows), "combinations": len(run.combinations),
        "backtests": len(windows) * len(run.combinations), "final_equity": run.result["metrics"]["final_equity"],
        "chosen": [w.result["params"] for w in windows],
    }))


if __name__ == "__main__":
    main()
