"""Reads for alerts: the active book, latest quotes, the daily state the engine starts from."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone

from alerts.engine import AlertRule
from alerts.indicators import INDICATOR_BARS, IndicatorStates, indicator_states
from alerts.models import AlertHistory, PriceAlert
from alphaloop.scoping import owned_by
from marketdata.models import Bar, Quote

logger = logging.getLogger(__name__)

DAILY_STATE_CACHE_SECONDS = 300
# Calendar days of bars read: ~275 sessions for the indicators, a month for a previous close.
INDICATOR_CALENDAR_DAYS = 400
PREVIOUS_CLOSE_CALENDAR_DAYS = 31


def not_expired(now: datetime) -> Q:
    return Q(expires_at__isnull=True) | Q(expires_at__gt=now)


def active_alerts(*, now: datetime, symbols: Iterable[str] | None = None) -> QuerySet[PriceAlert]:
    """ACTIVE alerts that have not expired at ``now`` (PAUSED ones never fire)."""
    queryset = PriceAlert.objects.filter(not_expired(now), alert_status=PriceAlert.ACTIVE)
    if symbols is not None:
        queryset = queryset.filter(symbol__in=list(symbols))
    return queryset.select_related("account__user", "linked_plan").order_by("id")


def alerts_watched_symbols() -> set[str]:
    """Symbols of the alerts that can still fire (the streaming feed follows them)."""
    return set(active_alerts(now=timezone.now()).order_by().values_list("symbol", flat=True).distinct())


def alert_rule(alert: PriceAlert) -> AlertRule:
    return AlertRule(alert.pk, alert.symbol, alert.condition_type, alert.threshold, alert.direction)


def latest_quotes(symbols: Iterable[str]) -> dict[str, tuple[Decimal, datetime]]:
    rows = Quote.objects.filter(instrument__symbol__in=list(symbols)).values_list("instrument__symbol", "price", "timestamp")
    return {symbol: (price, timestamp) for symbol, price, timestamp in rows}


def _cache_key(symbol: str, before: date, indicators: bool) -> str:
    return f"alerts:daily:{'ind' if indicators else 'px'}:{before.isoformat()}:{symbol}"


def daily_states_get(*, symbols: tuple[str, ...], before: date, indicator_symbols: set[str]) -> IndicatorStates:
    """The state at the last daily close before ``before`` for each symbol, aligned with ``symbols``.

    Only ``indicator_symbols`` get RSI/MACD (the others just their previous close). Cached per
    symbol and date for a few minutes; a cache outage only costs the recomputation.
    """
    keys = {symbol: _cache_key(symbol, before, symbol in indicator_symbols) for symbol in symbols}
    try:
        cached = cache.get_many(list(keys.values()))
    except Exception as exc:
        logger.warning("alerts: daily state cache unavailable, recomputing: %s", exc)
        cached = {}
    rows = {symbol: cached[key] for symbol, key in keys.items() if key in cached}
    missing = [symbol for symbol in symbols if symbol not in rows]
    if missing:
        computed = daily_rows_compute(missing, before, indicator_symbols & set(missing))
        try:
            cache.set_many({keys[s]: computed.get(s, {}) for s in missing}, DAILY_STATE_CACHE_SECONDS)
        except Exception as exc:
            logger.warning("alerts: daily state cache unavailable, not stored: %s", exc)
        rows.update(computed)
    return IndicatorStates.from_rows(rows, symbols)


def daily_rows_compute(symbols: list[str], before: date, indicator_symbols: set[str]) -> dict[str, dict[str, float]]:
    """symbol -> state fields from the daily bars strictly before ``before``."""
    rows: dict[str, dict[str, float]] = {}
    plain = [s for s in symbols if s not in indicator_symbols]
    if plain:
        bars = Bar.objects.filter(
            instrument__symbol__in=plain, date__lt=before, date__gte=before - timedelta(days=PREVIOUS_CLOSE_CALENDAR_DAYS)
        ).order_by("date")
        for symbol, close in bars.values_list("instrument__symbol", "close"):
            rows[symbol] = {"last_close": float(close)}  # ordered by date: the last one stays
    if indicator_symbols:
        bars = Bar.objects.filter(
            instrument__symbol__in=sorted(indicator_symbols), date__lt=before,
            date__gte=before - timedelta(days=INDICATOR_CALENDAR_DAYS),
        ).values_list("instrument__symbol", "date", "close")
        frame = pd.DataFrame([(s, d, float(c)) for s, d, c in bars], columns=["symbol", "date", "close"])
        if len(frame):
            closes = frame.pivot(index="date", columns="symbol", values="close").sort_index().tail(INDICATOR_BARS)
            states = indicator_states(closes)
            rows.update({symbol: states.row(symbol) for symbol in states.symbols})
    return rows


def alerts_list(*, user, status: str | None = None, account_id: int | None = None) -> QuerySet[PriceAlert]:
    queryset = owned_by(PriceAlert.objects.all(), user).select_related("linked_plan")
    if status:
        queryset = queryset.filter(alert_status=status)
    if account_id is not None:
        queryset = queryset.filter(account_id=account_id)
    return queryset.order_by("-created_at", "-id")


def alert_history_list(*, user, alert_id: int | None = None) -> QuerySet[AlertHistory]:
    queryset = owned_by(AlertHistory.objects.all(), user).select_related("alert")
    if alert_id is not None:
        queryset = queryset.filter(alert_id=alert_id)
    return queryset.order_by("-trigger_time", "-id")
