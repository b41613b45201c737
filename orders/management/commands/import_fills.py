"""Book a broker's trade history into an account's ledger.

    manage.py import_fills FILE --format alpaca|ibkr-flex|csv --account CODE [--dry-run]

Every bad row is printed with its line number and then nothing is imported; rows left out on purpose
(options, forex, summary lines) are listed; executions already in the ledger are counted, never booked
twice. ``--dry-run`` checks and counts everything an import would do and writes nothing.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from orders.external_fills import fills_import
from orders.importers import FORMATS
from orders.models import Account


class Command(BaseCommand):
    help = "Import a broker's executions (Alpaca FILL activities, an IBKR Flex trades CSV, or the generic CSV)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The file to import")
        parser.add_argument("--format", required=True, choices=FORMATS, dest="file_format",
                            help="alpaca: GET /v2/account/activities/FILL as JSON; ibkr-flex: a Flex Query's trades "
                                 "section as CSV; csv: executed_at,symbol,side,quantity,price,commission,execution_id")
        parser.add_argument("--account", required=True, help="Account code, e.g. PAPER-admin")
        parser.add_argument("--dry-run", action="store_true", help="Check and count everything; write nothing")

    def handle(self, *args, file: str, file_format: str, account: str, dry_run: bool, **options) -> None:
        found = Account.objects.filter(code=account).first()
        if found is None:
            raise CommandError(f"no account with code {account!r}")
        try:
            content = Path(file).read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {file}: {exc.strerror}") from None
        report = fills_import(account=found, content=content, file_format=file_format, dry_run=dry_run)
        for note in report.skipped:
            self.stdout.write(f"line {note.line}: skipped: {note.message}")
        if report.status == "refused":
            for note in report.errors:
                self.stderr.write(f"line {note.line}: {note.message}")
            raise CommandError(report.detail)
        booked = report.booking
        self.stdout.write(self.style.SUCCESS(report.detail))
        if booked.imported:
            self.stdout.write(
                f"{booked.orders_created} order(s) created; symbols {', '.join(booked.symbols)}; executions from "
                f"{booked.first_executed_at:%Y-%m-%d %H:%M:%S %Z} to {booked.last_executed_at:%Y-%m-%d %H:%M:%S %Z}"
            )
        if booked.instruments_created:
            self.stdout.write(f"new instruments (no bars yet: fetch_bars or import_bars brings their prices): "
                              f"{', '.join(booked.instruments_created)}")
        if booked.positions_replayed:
            self.stdout.write(f"replayed in execution order (older executions than those booked): "
                              f"{', '.join(booked.positions_replayed)}")
