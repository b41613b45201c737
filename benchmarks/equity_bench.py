"""Time the equity hot paths on a throw-away test database (SQLite by default, or DATABASE_URL).

One account trading 20 symbols for a year (2,000 fills, 252 sessions of bars), then:
the live path (one fill recorded, FIFO over the symbol's history), a full FIFO rebuild
(with journal drafts and their indicators), a one-year snapshot backfill, one daily
snapshot, and the 16:30 job over 50 accounts.

    .venv/bin/python benchmarks/equity_bench.py [--fills 2000] [--accounts 50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "alphaloop.test_settings")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import override_settings, setup_test_environment  # noqa: E402


def timed(label: str, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    print(f"{label:<58} {time.perf_counter() - start:8.3f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fills", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=50)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args.fills, args.accounts)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(n_fills: int, n_accounts: int) -> None:
    from equity.models import EquitySnapshot, TradePnlAttribution
    from equity.services import (
        attribution_record_fill, create_daily_snapshot, equity_snapshot_job_run, equity_snapshots_backfill,
        fifo_rebuild,
    )
    from journal.models import TradeJournal
    from marketdata import calendar
    from marketdata.models import Bar, Instrument
    from orders.models import Fill, Order

    rng = np.random.default_rng(3)
    sessions = calendar.sessions_between(dt.date(2025, 1, 2), dt.date(2025, 12, 31))
    symbols = [f"S{i:02d}" for i in range(20)] + ["SPY"]
    closes = {s: 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, len(sessions)))) for s in symbols}
    for symbol in symbols:
        instrument = Instrument.objects.create(symbol=symbol)
        Bar.objects.bulk_create(
            Bar(instrument=instrument, date=day, open=c, high=c, low=c, close=c, volume=1_000_000)
            for day, c in zip(sessions, (Decimal(f"{v:.4f}") for v in closes[symbol]))
        )
    with override_settings(PAPER_INITIAL_CASH=Decimal("1000000")):  # each user's paper account comes with them
        users = [get_user_model().objects.create_user(f"bench{i}", password="x" * 12) for i in range(n_accounts)]
    accounts = [user.accounts.get() for user in users]
    account = accounts[0]

    # Random round trips: buy or short a lot, close it later (partly or at once).
    fills, position = [], {s: 0 for s in symbols[:-1]}
    for i in range(n_fills):
        symbol = symbols[i % 20]
        day_index = min(len(sessions) - 1, i * len(sessions) // n_fills)
        day = sessions[day_index]
        held = position[symbol]
        quantity = int(rng.integers(10, 100))
        if held and rng.random() < 0.6:
            side = "SELL" if held > 0 else "BUY"
        else:
            side = "BUY" if rng.random() < 0.7 else "SELL"
        position[symbol] += quantity if side == "BUY" else -quantity
        price = Decimal(f"{closes[symbol][day_index]:.4f}")
        at = dt.datetime.combine(day, dt.time(15, i % 60), tzinfo=dt.UTC)
        order = Order.objects.create(account=account, client_order_id=f"b{i}", symbol=symbol, side=side,
                                     quantity=quantity, status=Order.FILLED, strategy_tag=f"strat{i % 3}")
        fills.append(Fill(order=order, account=account, symbol=symbol, side=side, quantity=quantity, price=price,
                          commission=Decimal("1.00"), executed_at=at))
    Fill.objects.bulk_create(fills)
    print(f"{n_fills} fills on {len(symbols) - 1} symbols over {len(sessions)} sessions; {n_accounts} accounts\n")

    timed("fifo_rebuild (all symbols, drafts with indicators)", fifo_rebuild, account=account)
    print(f"  -> {TradePnlAttribution.objects.count()} closed trades, {TradeJournal.objects.count()} drafts")
    last = Fill.objects.filter(account=account).order_by("-executed_at", "-id").first()
    timed("attribution_record_fill (live path, one fill, no change)", attribution_record_fill, fill=last)
    timed(f"equity_snapshots_backfill ({len(sessions)} sessions)", equity_snapshots_backfill,
          account=account, start=sessions[0], end=sessions[-1])
    EquitySnapshot.objects.filter(snapshot_date=sessions[-1]).delete()
    timed("create_daily_snapshot (one session, full replay)", create_daily_snapshot, account=account, date=sessions[-1])
    EquitySnapshot.objects.filter(snapshot_date=sessions[-1]).delete()
    at_1630 = dt.datetime.combine(sessions[-1], dt.time(21, 30), tzinfo=dt.UTC)
    timed(f"equity_snapshot_job_run ({n_accounts} accounts)", equity_snapshot_job_run, now=at_1630)


if __name__ == "__main__":
    main()
