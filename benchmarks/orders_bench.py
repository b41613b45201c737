"""Time the full order path: ``order_submit`` -> validation -> OrderSafetyGuard -> PaperBroker fill.

Each call is a market order that the paper broker fills at once, with everything that follows a
fill on the embedded default (audit rows, order_update events, notifications, the fill signal and
its receivers). The run sets up its own Django on a throwaway database: a SQLite file under /tmp,
or the MariaDB database ``bench_orders`` (dropped and re-created) with ``--mysql``. Trading hours
are switched off and the rate limit raised for the run; every other guard rule stays on.

    python benchmarks/orders_bench.py [--orders 1000] [--mysql] [--mysql-url mysql://root@127.0.0.1:3306]
                                      [--without-fill-receivers] [--history 10000]

``--history N`` times the path twice on one symbol: with 100 earlier fills, then with N. The earlier
fills (alternate buys and sells of 10 shares, one minute apart, ending two days before the run, so
the position nets flat) are written in bulk and attributed by ``equity.services.fifo_rebuild``, the
same service that backfills imported fills, before each timed run; the script prints both
percentiles and the ratio of the p50s.

``--without-fill-receivers`` unsubscribes the other apps from ``FillRecorded`` (equity's FIFO
attribution and journal drafts, the fill notification) to time the orders app's own path.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SQLITE_PATH = Path("/tmp/alphaloop_orders_bench.sqlite3")
MYSQL_DB = "bench_orders"


def configure(args: argparse.Namespace) -> str:
    """Environment for a self-contained run; returns the database URL."""
    if args.mysql:
        from urllib.parse import urlparse

        import MySQLdb

        server = urlparse(args.mysql_url)
        db = MySQLdb.connect(host=server.hostname or "127.0.0.1", port=server.port or 3306,
                             user=server.username or "root", passwd=server.password or "")
        cursor = db.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS {MYSQL_DB}")
        cursor.execute(f"CREATE DATABASE {MYSQL_DB} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        db.close()
        url = f"{args.mysql_url.rstrip('/')}/{MYSQL_DB}"
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{SQLITE_PATH}"
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CELERY_TASK_ALWAYS_EAGER"):
        os.environ.pop(name, None)
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "alphaloop.settings",
        "ALPHALOOP_ENV_FILE": "/nonexistent",
        "SECRET_KEY": "bench-only-secret-key-not-for-production-0123456789",
        "JWT_SIGNING_KEY": "bench-only-jwt-key-not-for-production-0123456789-abcdef",
        "DATABASE_URL": url,
        "MARKET_FEED": "none",
        "TRADING_HOURS_ONLY": "false",
        "MAX_ORDERS_PER_MINUTE": "1000000",
        "LOG_LEVEL": "WARNING",
    })
    return url


def setup_market():
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test.utils import override_settings

    from marketdata.models import Instrument
    from marketdata.pipeline import quote_store

    call_command("migrate", verbosity=0, interactive=False)
    with override_settings(PAPER_INITIAL_CASH=Decimal("10000000")):  # the paper account comes with the user
        user = get_user_model().objects.create_user(username="bench", password="bench-password-123")
    account = user.accounts.get()
    Instrument.objects.create(symbol="BNCH", name="Benchmark Inc.")
    quote_store(symbol="BNCH", price=Decimal("100"), source="bench")
    return account


def run(account, count: int) -> list[float]:
    from orders.models import Order
    from orders.submission import order_submit

    latencies = []
    for i in range(count):
        side = "BUY" if i % 2 == 0 else "SELL"  # alternate so the position stays small
        started = time.perf_counter()
        order = order_submit(account=account, symbol="BNCH", side=side, quantity=Decimal("10"))
        latencies.append(time.perf_counter() - started)
        if order.status != Order.FILLED:
            raise SystemExit(f"order {i} was not filled: {order.status} {order.reject_code} {order.reject_reason}")
    return latencies


def add_history(account, total: int) -> None:
    """Bring the symbol's fills up to ``total`` with bulk fills before the run's, then attribute them."""
    import datetime as dt

    from django.utils import timezone

    from equity.services import fifo_rebuild
    from orders.models import Fill, Order

    have = Fill.objects.filter(account=account, symbol="BNCH").count()
    first = Fill.objects.filter(account=account, symbol="BNCH").order_by("executed_at").first()
    end = first.executed_at if first is not None else timezone.now() - dt.timedelta(days=2)
    quantity, price = Decimal("10"), Decimal("100")
    for chunk in range(have, total, 1000):
        size = min(1000, total - chunk)
        stamps = [end - dt.timedelta(minutes=chunk + i + 1) for i in range(size)]
        sides = ["SELL" if (chunk + i) % 2 == 0 else "BUY" for i in range(size)]  # oldest first is a BUY
        orders = Order.objects.bulk_create([
            Order(account=account, client_order_id=f"history-{chunk + i}", symbol="BNCH", side=side,
                  quantity=quantity, status=Order.FILLED, filled_quantity=quantity, avg_fill_price=price,
                  filled_at=at)
            for i, (side, at) in enumerate(zip(sides, stamps, strict=True))
        ])
        if orders[0].pk is None:  # MariaDB returns no ids from a bulk insert
            orders = list(Order.objects.filter(client_order_id__startswith="history-", fills__isnull=True))
        Fill.objects.bulk_create([
            Fill(order=order, account=account, symbol="BNCH", side=order.side, quantity=quantity, price=price,
                 commission=Decimal("0"), executed_at=order.filled_at)
            for order in orders
        ])
    fifo_rebuild(account=account, symbol="BNCH")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=20, help="orders submitted first and not timed")
    parser.add_argument("--mysql", action="store_true", help=f"use the MariaDB database {MYSQL_DB} instead of SQLite")
    parser.add_argument("--mysql-url", default="mysql://root@127.0.0.1:3306", help="server URL without a database")
    parser.add_argument("--without-fill-receivers", action="store_true",
                        help="unsubscribe the other apps from FillRecorded (time the orders app alone)")
    parser.add_argument("--history", type=int, default=None,
                        help="time at 100 earlier fills on the symbol, then at this many (>= 100)")
    args = parser.parse_args()
    if args.history is not None and args.history < 100:
        parser.error("--history must be at least 100")
    url = configure(args)

    import django

    django.setup()
    from django.db import connection

    account = setup_market()
    if args.without_fill_receivers:
        from alphaloop import bus
        from alphaloop.events import FillRecorded

        for subscription in bus.subscriptions(FillRecorded):
            bus.unsubscribe(FillRecorded, subscription.name)
    print(f"database: {connection.vendor} ({url})")
    receivers = "without" if args.without_fill_receivers else "with"
    print(f"orders: {args.orders} market orders, each validated, guarded and filled by the PaperBroker "
          f"({receivers} the FillRecorded subscribers of other apps)")
    histories = [None] if args.history is None else [100, args.history]
    p50s = []
    for history in histories:
        if history is not None:
            started = time.perf_counter()
            add_history(account, history)
            written = time.perf_counter() - started
            print(f"history: {history:,} earlier fills on the symbol (written in {written:.1f} s)")
        run(account, args.warmup)
        started = time.perf_counter()
        latencies = run(account, args.orders)
        elapsed = time.perf_counter() - started
        ms = [t * 1000 for t in latencies]
        p50s.append(percentile(ms, 50))
        print(f"  throughput: {args.orders / elapsed:,.1f} orders/second ({elapsed:.2f} s)")
        print(f"  latency: p50 {percentile(ms, 50):.2f} ms, p99 {percentile(ms, 99):.2f} ms, "
              f"mean {statistics.fmean(ms):.2f} ms, max {max(ms):.2f} ms")
    if len(p50s) == 2:
        print(f"p50 at {args.history:,} / p50 at 100: {p50s[1] / p50s[0]:.2f}x")
    connection.close()


if __name__ == "__main__":
    main()
