"""The symbols that matter: what a streaming feed (``MARKET_FEED=alpaca``) subscribes to.

marketdata knows nothing of trading, so the apps that hold symbols name them: each registers a source in
its ``AppConfig.ready`` (orders: open positions, resting orders and pending plans; alerts: active alerts).
marketdata adds the dashboard's watchlist itself: ``MARKET_FEED_WATCHLIST``, or every active instrument
(what the dashboard's "Live prices" shows) when that is empty, and the equity benchmark.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from django.conf import settings

from marketdata.models import Instrument

logger = logging.getLogger(__name__)

SymbolSource = Callable[[], Iterable[str]]

_sources: dict[str, SymbolSource] = {}


def symbol_source_register(name: str, source: SymbolSource) -> None:
    """Register (or replace, by name) a function returning symbols the feed must follow."""
    _sources[name] = source


def symbol_sources() -> dict[str, SymbolSource]:
    return dict(_sources)


def watchlist_symbols() -> set[str]:
    """The dashboard's watchlist: ``MARKET_FEED_WATCHLIST``, else every active instrument; plus the benchmark."""
    symbols = set(settings.MARKET_FEED_WATCHLIST) or set(
        Instrument.objects.filter(active=True).values_list("symbol", flat=True))
    return symbols | {settings.EQUITY_BENCHMARK_SYMBOL.upper()}


def watched_symbols() -> set[str]:
    """Every instrument some part of AlphaLoop needs live prices for.

    A symbol that is no instrument is left out (the tick pipeline would drop its ticks); a failing
    source is logged and the others still count.
    """
    symbols = watchlist_symbols()
    for name, source in _sources.items():
        try:
            symbols.update(s.strip().upper() for s in source() if s and s.strip())
        except Exception:
            logger.exception("symbol source %s failed; the feed keeps the others", name)
    return set(Instrument.objects.filter(symbol__in=symbols).values_list("symbol", flat=True))
