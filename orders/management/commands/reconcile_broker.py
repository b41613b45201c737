"""Reconcile now: AlphaLoop's books against the broker's (what ``broker_reconcile_job`` does in session).

    manage.py reconcile_broker

Prints one line per reconciled account: matched, mismatch (with each difference), moving or unavailable.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from orders.models import BrokerMismatch
from orders.reconciliation import broker_reconcile_all


class Command(BaseCommand):
    help = "Reconcile the real account's positions, cash and open orders with the broker's, at any hour."

    def handle(self, *args, **options) -> None:
        outcome = broker_reconcile_all(in_session_only=False)
        if outcome.get("skipped"):
            raise CommandError(f"Nothing to reconcile: {outcome['skipped']} (reconciliation needs ORDER_MODE=REAL).")
        for result in outcome["results"]:
            line = (f"account {result['account_id']}: {result['status']}; {result.get('imported', 0)} execution(s) "
                    f"imported, {len(result.get('detected', []))} new mismatch(es), {result.get('resolved', 0)} resolved")
            self.stdout.write(line + (f" ({result['error']})" if result.get("error") else ""))
            for mismatch in BrokerMismatch.objects.filter(pk__in=result.get("detected", [])):
                self.stdout.write(f"  {mismatch.kind} {mismatch.symbol}: AlphaLoop {mismatch.ours}, broker {mismatch.theirs}")
        if not outcome["results"]:
            self.stdout.write("No real account to reconcile (every account is a paper account).")
