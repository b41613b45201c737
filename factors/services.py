"""The SignalEngine (spec 4.7): load the library, compute, normalize, combine, filter, emit.

The computation is ``factors.scoring.latest_signals`` (pure pandas/numpy); this module feeds it
the stored bars and fundamentals, persists ``Signal`` rows and notifies. A signal never places
an order: acting on one goes through a plan and the order path.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from alphaloop import bus
from alphaloop.audit import audit_log_create
from alphaloop.events import SignalFired
from alphaloop.exceptions import ApplicationError
from factors.models import Signal
from factors.scoring import latest_signals
from factors.selectors import factor_panel
from marketdata import calendar

logger = logging.getLogger(__name__)

STRENGTH_PLACES = Decimal("0.0001")
SCORE_PLACES = Decimal("0.000001")


def _decimal(value: float | None, places: Decimal) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(places)


def _signal(item: dict) -> Signal:
    """An (unsaved) Signal from one item of ``latest_signals``, quantized as stored."""
    return Signal(
        symbol=item["symbol"],
        as_of=item["as_of"],
        direction=item["direction"],
        strength=_decimal(item["strength"], STRENGTH_PLACES),
        score=_decimal(item["score"], SCORE_PLACES),
        factors=item["factors"],
        win_rate=_decimal(item["win_rate"], STRENGTH_PLACES),
        rr_ratio=_decimal(item["rr_ratio"], STRENGTH_PLACES),
        sample_size=item["sample_size"],
        horizon_days=item["horizon"],
    )


def _compute(as_of: date, weights: dict[str, float] | None, horizon: int) -> list[Signal]:
    panel = factor_panel(end=as_of)
    if panel["close"].empty:
        return []
    return [_signal(item) for item in latest_signals(panel, as_of=as_of, weights=weights, horizon=horizon)]


def signals_run(*, as_of: date | None = None, weights: dict[str, float] | None = None, horizon: int | None = None,
                notify: bool = True) -> list[Signal]:
    """Scan the universe on ``as_of`` (default: the last closed session); upsert one Signal per symbol.

    These are the shared signals every user reads; new strong ones notify every account holder.
    Idempotent: running the same session twice updates the rows and notifies nothing new.
    """
    as_of = as_of or calendar.last_closed_session()
    horizon = horizon or settings.SIGNAL_HORIZON_DAYS
    fired: list[Signal] = []
    stored: list[Signal] = []
    with transaction.atomic():
        for computed in _compute(as_of, weights, horizon):
            fields = {name: getattr(computed, name) for name in SIGNAL_FIELDS}
            signal, created = Signal.objects.update_or_create(symbol=computed.symbol, as_of=computed.as_of,
                                                              defaults=fields)
            stored.append(signal)
            if created and signal.direction != Signal.FLAT and signal.strength >= settings.SIGNAL_NOTIFY_MIN_STRENGTH:
                fired.append(signal)
        if notify:
            for signal in fired:
                bus.publish(SignalFired(
                    signal_id=signal.pk, symbol=signal.symbol, direction=signal.direction, strength=signal.strength,
                    score=signal.score, as_of=signal.as_of, win_rate=signal.win_rate, sample_size=signal.sample_size,
                    rr_ratio=signal.rr_ratio,
                ))
    return stored


SIGNAL_FIELDS = ("direction", "strength", "score", "factors", "win_rate", "rr_ratio", "sample_size", "horizon_days")


def signals_scan(*, user, as_of: date | None = None, weights: dict[str, float] | None = None,
                 horizon: int | None = None, what_if: bool = False, request=None) -> list[Signal]:
    """A user's scan request. The shared scan (stored as the signals everyone reads, notifying every
    account holder) is for staff only; a what-if (anyone, any weights) is computed and returned but
    never stored and notifies nobody."""
    as_of = as_of or calendar.last_closed_session()
    if what_if:
        return _compute(as_of, weights, horizon or settings.SIGNAL_HORIZON_DAYS)
    if not user.is_staff:
        raise ApplicationError(
            "Only staff run the shared scan that every user reads. Send \"what_if\": true for a private "
            "result with your own weights (not stored, no notifications).", code="staff_only", status_code=403)
    with transaction.atomic():
        signals = signals_run(as_of=as_of, weights=weights, horizon=horizon)
        audit_log_create(action="signals.run", resource="signals", user=user, request=request,
                         payload={"as_of": as_of.isoformat(), "weights": weights, "horizon": horizon,
                                  "count": len(signals)})
    return signals
