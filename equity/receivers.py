"""Signal receivers connected in ``EquityConfig.ready``."""

from __future__ import annotations


def on_fill_recorded(sender, fill, **kwargs) -> None:
    """``orders.signals.fill_recorded`` (sent on commit, robustly): match the fill FIFO in a task.

    The attribution is derived data: if it ever fails, ``fifo_rebuild`` restores it.
    """
    from equity.tasks import attribution_record_fill

    attribution_record_fill.delay(fill.pk)


def on_fills_imported(sender, account, symbols, since, **kwargs) -> None:
    """``orders.signals.fills_imported`` (inside the booking transaction): executions from the broker's records,
    possibly older than fills already matched. The symbols' FIFO attribution is rebuilt by full replay in the
    same transaction (journal drafts of the trades it finds, without a notification each), and once it commits
    the snapshots are rewritten from the first imported session through the last closed one."""
    from django.db import transaction

    from equity.services import fifo_rebuild, market_date
    from equity.tasks import equity_backfill_since

    for symbol in symbols:
        fifo_rebuild(account=account, symbol=symbol)
    start = market_date(since).isoformat()
    transaction.on_commit(lambda: equity_backfill_since.delay(account.pk, start), robust=True)
