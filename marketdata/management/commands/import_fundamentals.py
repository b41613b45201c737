from django.core.management import BaseCommand, CommandError

from marketdata.services import ImportErrorReport, fundamentals_import, fundamentals_parse_csv


class Command(BaseCommand):
    help = "Import fundamentals snapshots from a CSV with columns symbol, as_of, eps, book_value_per_share, roe."

    def add_arguments(self, parser):
        parser.add_argument("file")

    def handle(self, *args, file: str, **options):
        try:
            count = fundamentals_import(records=fundamentals_parse_csv(file))
        except FileNotFoundError:
            raise CommandError(f"No such file: {file}") from None
        except ImportErrorReport as report:
            for error in report.errors:
                self.stderr.write(error)
            raise CommandError(f"{len(report.errors)} bad row(s); nothing was imported.") from None
        self.stdout.write(self.style.SUCCESS(f"{count} fundamentals snapshots imported"))
