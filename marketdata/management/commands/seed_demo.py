from django.core.management import BaseCommand

from marketdata.demo import demo_universe_seed


class Command(BaseCommand):
    help = "Seed the SYNTHETIC demo universe (20 large caps + SPY, 3.5 years of generated daily bars, fundamentals)."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, seed: int, **options):
        summary = demo_universe_seed(seed=seed)
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {summary['symbols']} synthetic instruments, {summary['sessions']} sessions "
                f"({summary['start']} to {summary['end']}), {summary['fundamentals']} fundamentals snapshots. "
                "These prices are generated, not real: import real data with import_bars."
            )
        )
