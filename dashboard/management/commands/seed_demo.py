from django.core.management import BaseCommand

from dashboard.demo import demo_history_seed
from marketdata.demo import demo_universe_seed
from orders.models import Account


class Command(BaseCommand):
    help = ("Seed the SYNTHETIC demo: 20 large caps + SPY with 3.5 years of generated daily bars and fundamentals, "
            "and a year of demo trades for the superusers' accounts (or --account CODE).")

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--account", action="append", default=None, help="account code(s) to give a demo history")
        parser.add_argument("--no-history", action="store_true")

    def handle(self, *args, seed: int, account, no_history: bool, **options):
        summary = demo_universe_seed(seed=seed)
        self.stdout.write(self.style.SUCCESS(
            f"Seeded {summary['symbols']} synthetic instruments, {summary['sessions']} sessions "
            f"({summary['start']} to {summary['end']}), {summary['fundamentals']} fundamentals snapshots. "
            "These prices are generated, not real: import real data with import_bars."))
        if no_history:
            return
        accounts = list(Account.objects.filter(code__in=account)) if account else _first_superuser_accounts()
        for target in accounts:
            result = demo_history_seed(account=target)
            self.stdout.write(f"  {target.code}: {result}")


def _first_superuser_accounts() -> list[Account]:
    seen, accounts = set(), []
    for acc in Account.objects.filter(user__is_superuser=True).order_by("user_id", "id"):
        if acc.user_id not in seen:
            seen.add(acc.user_id)
            accounts.append(acc)
    return accounts
