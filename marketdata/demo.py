"""The synthetic demo universe written to the database (``seed_demo``)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction

from alphaloop.money import CENT
from marketdata import calendar
from marketdata.models import Instrument
from marketdata.services import bars_import, fundamentals_import, quotes_from_last_close
from marketdata.synthetic import DEMO_UNIVERSE, generate_fundamentals, generate_universe, profile_for

DEMO_YEARS = 3.5
NAMES = {
    "SPY": "SPDR S&P 500 ETF (synthetic)", "AAPL": "Apple", "MSFT": "Microsoft", "GOOG": "Alphabet", "AMZN": "Amazon",
    "NVDA": "NVIDIA", "META": "Meta Platforms", "TSLA": "Tesla", "JPM": "JPMorgan Chase", "V": "Visa",
    "JNJ": "Johnson & Johnson", "WMT": "Walmart", "PG": "Procter & Gamble", "XOM": "Exxon Mobil",
    "UNH": "UnitedHealth", "HD": "Home Depot", "KO": "Coca-Cola", "PEP": "PepsiCo", "DIS": "Walt Disney",
    "NFLX": "Netflix", "INTC": "Intel",
}


def _decimal(value: float) -> Decimal:
    return Decimal(str(value)).quantize(CENT)


@transaction.atomic
def demo_universe_seed(*, end: date | None = None, years: float = DEMO_YEARS, seed: int = 42) -> dict:
    """Instruments, daily bars, fundamentals and quotes for the demo universe, all marked synthetic."""
    end = end or calendar.last_closed_session()
    start = end - timedelta(days=int(365.25 * years))
    sessions = calendar.sessions_index(start, end)
    universe = generate_universe(DEMO_UNIVERSE, start, end, seed=seed, sessions=sessions)
    for symbol, frame in universe.items():
        profile = profile_for(symbol)
        Instrument.objects.update_or_create(
            symbol=symbol,
            defaults={
                "name": NAMES.get(symbol, symbol) + ("" if symbol == "SPY" else " (synthetic)"),
                "asset_class": Instrument.ETF if symbol == "SPY" else Instrument.STOCK,
                "sector": profile.sector,
                "is_synthetic": True,
            },
        )
        rows = [
            {"date": ts.date(), "open": _decimal(r.open), "high": _decimal(r.high), "low": _decimal(r.low),
             "close": _decimal(r.close), "adj_close": None, "volume": int(r.volume)}
            for ts, r in zip(frame.index, frame.itertuples(index=False))
        ]
        bars_import(symbol=symbol, rows=rows, is_synthetic=True)
    fundamentals = generate_fundamentals(DEMO_UNIVERSE, start, end, seed=seed)
    records = [
        {"symbol": r.symbol, "as_of": r.as_of, "eps": Decimal(str(r.eps)),
         "book_value_per_share": Decimal(str(r.book_value_per_share)), "roe": Decimal(str(r.roe))}
        for r in fundamentals.itertuples(index=False)
    ]
    fundamentals_import(records=records, is_synthetic=True)
    quotes_from_last_close(symbols=DEMO_UNIVERSE, source="seed")
    return {"symbols": len(universe), "sessions": len(sessions), "start": sessions[0].date(), "end": sessions[-1].date(),
            "fundamentals": len(records)}
