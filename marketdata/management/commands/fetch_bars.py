import datetime as dt

from django.core.exceptions import ImproperlyConfigured
from django.core.management import BaseCommand, CommandError

from marketdata.models import Instrument
from marketdata.services import ImportErrorReport


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD)") from None


class Command(BaseCommand):
    help = ("Import split- and dividend-adjusted daily bars from a provider (Alpaca) for a list of symbols. "
            "Re-fetching upserts.")

    def add_arguments(self, parser):
        parser.add_argument("--provider", required=True, choices=["alpaca"])
        parser.add_argument("--symbols", required=True, help="Comma-separated, e.g. AAPL,SPY")
        parser.add_argument("--start", required=True, help="First session, YYYY-MM-DD")
        parser.add_argument("--end", help="Last session, YYYY-MM-DD (default: today)")
        parser.add_argument("--feed", choices=["iex", "sip", "delayed_sip"],
                            help="Alpaca's feed (default: the best one your Alpaca plan includes)")

    def handle(self, *args, provider: str, symbols: str, start: str, end: str | None, feed: str | None, **options):
        from marketdata.providers.alpaca import ProviderError, alpaca_bars_import

        wanted = list(dict.fromkeys(s.strip().upper() for s in symbols.split(",") if s.strip()))
        if not wanted:
            raise CommandError("--symbols names no symbol")
        first, last = _date(start), _date(end) if end else None
        if last is not None and last < first:
            raise CommandError(f"--end {last} is before --start {first}")
        synthetic = set(Instrument.objects.filter(symbol__in=wanted, is_synthetic=True).values_list("symbol", flat=True))
        try:
            results = alpaca_bars_import(symbols=wanted, start=first, end=last, feed=feed)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        except ProviderError as exc:
            raise CommandError(f"{exc}; nothing was imported.") from None
        except ImportErrorReport as report:
            for error in report.errors:
                self.stderr.write(error)
            raise CommandError(f"{len(report.errors)} bad bar(s); nothing was imported.") from None
        for result in results:
            if not (result.created or result.updated):
                self.stderr.write(f"{result.symbol}: no bars from Alpaca in that range (unknown symbol?)")
                continue
            self.stdout.write(self.style.SUCCESS(
                f"{result.symbol}: {result.created} new, {result.updated} updated bars ({result.first} to {result.last})"
            ))
            if result.symbol in synthetic:
                self.stderr.write(f"{result.symbol} holds synthetic demo bars: outside {result.first} to {result.last} "
                                  "they are still synthetic")
