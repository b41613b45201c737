from django.core.management import BaseCommand, CommandError

from marketdata.services import ImportErrorReport, bars_import_csv


class Command(BaseCommand):
    help = "Import daily bars from a CSV (Date,Open,High,Low,Close[,Adj Close],Volume in any order). Re-importing upserts."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--symbol", required=True)

    def handle(self, *args, file: str, symbol: str, **options):
        try:
            result = bars_import_csv(source=file, symbol=symbol)
        except FileNotFoundError:
            raise CommandError(f"No such file: {file}") from None
        except ImportErrorReport as report:
            for error in report.errors:
                self.stderr.write(error)
            raise CommandError(f"{len(report.errors)} bad row(s); nothing was imported.") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.symbol}: {result.created} new, {result.updated} updated bars ({result.first} to {result.last})"
            )
        )
