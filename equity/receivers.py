"""The equity app's subscribers on the spine, registered in ``EquityConfig.ready``."""

from __future__ import annotations

from alphaloop.events import FillRecorded, FillsImported


def on_fill_recorded(event: FillRecorded) -> None:
    """After commit: match the fill FIFO in a task.

    The attribution is derived data: if it ever fails, ``fifo_rebuild`` restores it.
    """
    from equity.tasks import attribution_record_fill

    attribution_record_fill.delay(event.fill_id)


def on_fills_imported(event: FillsImported) -> None:
    """Inside the booking transaction: executions from the broker's records, possibly older than fills already
    matched. The symbols' FIFO attribution is rebuilt by full replay in the same transaction (journal drafts of
    the trades it finds, without a notification each), and once it commits the snapshots are rewritten from the
    first imported session through the last closed one."""
    from django.db import transaction

    from equity.services import fifo_rebuild
    from equity.tasks import equity_backfill_since
    from marketdata.calendar import market_date
    from orders.models import Account

    account = Account.objects.get(pk=event.account_id)
    for symbol in event.symbols:
        fifo_rebuild(account=account, symbol=symbol)
    start = market_date(event.since).isoformat()
    transaction.on_commit(lambda: equity_backfill_since.delay(account.pk, start), robust=True)
