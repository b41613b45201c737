"""Rebuild an account's equity snapshots for a date range from its fills and the daily bars.

    manage.py backfill_equity --account PAPER-admin --start 2026-01-02 --end 2026-03-31 [--attribution]
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from equity.services import equity_snapshots_backfill, fifo_rebuild
from orders.models import Account


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = "Rebuild equity snapshots (and optionally the FIFO P&L attribution) from fills and bars."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--account", required=True, help="Account code, e.g. PAPER-admin")
        parser.add_argument("--start", required=True, type=_date, help="First date (YYYY-MM-DD)")
        parser.add_argument("--end", required=True, type=_date, help="Last date (YYYY-MM-DD)")
        parser.add_argument("--attribution", action="store_true", help="Also rebuild the FIFO P&L attribution first")

    def handle(self, *args, account: str, start: dt.date, end: dt.date, attribution: bool, **options) -> None:
        if start > end:
            raise CommandError("--start must be on or before --end")
        found = Account.objects.filter(code=account).first()
        if found is None:
            raise CommandError(f"no account with code {account!r}")
        if attribution:
            result = fifo_rebuild(account=found)
            self.stdout.write(
                f"attribution: {len(result.created)} created, {result.updated} updated, {result.deleted} deleted"
            )
        snapshots = equity_snapshots_backfill(account=found, start=start, end=end)
        if snapshots:
            last = snapshots[-1]
            self.stdout.write(
                f"{len(snapshots)} snapshots for {found.code} from {snapshots[0].snapshot_date} to "
                f"{last.snapshot_date}; last equity {last.total_equity}"
            )
        else:
            self.stdout.write(f"no NYSE sessions between {start} and {end}")
