"""Celery tasks of the marketdata app (job names fixed by ``alphaloop.schedule``). Thin: each calls a service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from marketdata import calendar

logger = logging.getLogger(__name__)


@shared_task(name="marketdata.tasks.bars_update_job")
def bars_update_job() -> dict:
    """After each close: the universe's and the benchmark's adjusted daily bars from Alpaca, up to today.

    Runs only when Alpaca keys are set (``ALPACA_API_KEY``/``ALPACA_SECRET_KEY``) and today is a
    session; instruments holding synthetic demo bars are left alone (``fetch_bars`` replaces them).
    """
    from marketdata.providers.alpaca import ProviderError, alpaca_bars_update, bars_update_symbols
    from marketdata.services import ImportErrorReport

    today = timezone.localtime(timezone.now(), calendar.market_tz()).date()
    if not (settings.ALPACA_API_KEY and settings.ALPACA_SECRET_KEY):
        return {"skipped": "no Alpaca keys (ALPACA_API_KEY, ALPACA_SECRET_KEY)"}
    if not calendar.is_session(today):
        return {"skipped": f"{today} is not a session"}
    symbols = bars_update_symbols()
    if not symbols:
        return {"skipped": "no instrument with real bars to update"}
    try:
        results = alpaca_bars_update(symbols=symbols, today=today)
    except (ProviderError, ImportErrorReport) as exc:
        logger.error("bars_update_job: nothing was imported: %s", exc)
        return {"error": str(exc)}
    return {r.symbol: {"created": r.created, "updated": r.updated} for r in results}
