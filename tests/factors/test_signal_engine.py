"""The SignalEngine on stored bars: persistence, idempotency, evidence you can recompute, the API."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pytest

from factors.models import Signal
from factors.scoring import composite_scores, direction_and_strength, strength_bucket
from factors.selectors import factor_panel
from factors.services import signals_run
from marketdata import calendar
from marketdata.services import bars_import
from marketdata.synthetic import generate_universe

SYMBOLS = ["SPY", "AAPL", "MSFT", "GOOG", "JPM", "XOM", "KO", "NFLX", "TSLA", "WMT"]
END = date(2026, 11, 20)


FUTURE_END = date(2026, 12, 18)


def _seed(*, until: date = END, after: date | None = None) -> None:
    """One generated history to FUTURE_END; import the bars in (after, until]."""
    index = calendar.sessions_index(FUTURE_END - timedelta(days=700), FUTURE_END)[-440:]
    universe = generate_universe(SYMBOLS, index[0].date(), index[-1].date(), seed=3, sessions=index)
    for symbol, frame in universe.items():
        frame = frame[(frame.index <= str(until)) & (frame.index > str(after or date.min))]
        rows = [
            {"date": ts.date(), "open": Decimal(str(r.open)), "high": Decimal(str(r.high)), "low": Decimal(str(r.low)),
             "close": Decimal(str(r.close)), "adj_close": None, "volume": int(r.volume)}
            for ts, r in zip(frame.index, frame.itertuples(index=False))
        ]
        bars_import(symbol=symbol, rows=rows, is_synthetic=True)


@pytest.fixture
def universe(db):
    _seed()


def test_a_scan_stores_one_signal_per_scored_symbol_and_rerunning_writes_nothing_twice(universe):
    first = signals_run(as_of=END, notify=False)
    assert len(first) == len(SYMBOLS)
    assert {s.as_of for s in first} == {END}
    again = signals_run(as_of=END, notify=False)
    assert Signal.objects.count() == len(SYMBOLS)
    assert [(s.symbol, s.score, s.win_rate) for s in again] == [(s.symbol, s.score, s.win_rate) for s in first]


def test_stored_win_rate_and_rr_ratio_are_recomputed_from_stored_bars(universe):
    horizon = 10
    signals_run(as_of=END, notify=False, horizon=horizon)
    signal = Signal.objects.exclude(direction="FLAT").order_by("-strength").first()
    assert signal is not None and signal.sample_size > 0

    panel = factor_panel(end=END)
    scores = composite_scores(panel)
    close = panel["close"]
    end = len(scores.index) - 1
    sign = 1 if signal.direction == "LONG" else -1
    bucket = strength_bucket(float(signal.strength))
    outcomes = []
    for t in range(0, end - horizon + 1):  # only windows that close by the signal date
        for symbol in scores.columns:
            score = scores[symbol].iloc[t]
            if np.isnan(score):
                continue
            direction, strength = direction_and_strength(float(score))
            if direction != signal.direction or strength_bucket(strength) != bucket:
                continue
            forward = close[symbol].iloc[t + horizon] / close[symbol].iloc[t] - 1
            if np.isfinite(forward):
                outcomes.append(sign * forward)
    gains = [o for o in outcomes if o > 0]
    losses = [-o for o in outcomes if o < 0]
    assert signal.sample_size == len(outcomes)
    assert signal.win_rate == Decimal(str(len(gains) / len(outcomes))).quantize(Decimal("0.0001"))
    rr = (sum(gains) / len(gains)) / (sum(losses) / len(losses))
    assert float(signal.rr_ratio) == pytest.approx(rr, abs=6e-5)


def test_appending_future_bars_changes_no_stored_signal(universe):
    before = {s.symbol: (s.score, s.direction, s.win_rate, s.rr_ratio, s.sample_size) for s in signals_run(as_of=END, notify=False)}
    Signal.objects.all().delete()
    _seed(after=END, until=FUTURE_END)  # the same history, 20 more sessions appended
    after = {s.symbol: (s.score, s.direction, s.win_rate, s.rr_ratio, s.sample_size) for s in signals_run(as_of=END, notify=False)}
    assert after == before


@pytest.mark.django_db
def test_signals_api(api, staff_api, universe):
    assert api.get("/api/v1/signals/latest").json() == {"count": 0, "next": None, "previous": None, "results": []}
    run = staff_api.post("/api/v1/signals/run", {"as_of": END.isoformat()}, format="json")
    assert run.status_code == 200 and run.data["count"] == len(SYMBOLS)
    latest = api.get("/api/v1/signals/latest?page_size=3")
    assert latest.data["count"] == len(SYMBOLS) and len(latest.data["results"]) == 3
    assert {s["as_of"] for s in latest.data["results"]} == {END.isoformat()}
    strengths = [Decimal(s["strength"]) for s in latest.data["results"]]
    assert strengths == sorted(strengths, reverse=True)
    assert "weights" in api.post("/api/v1/signals/run", {"weights": {"nope": 1}}, format="json").data
    assert "page_size" in api.get("/api/v1/signals/latest?page_size=0").data


@pytest.mark.django_db
def test_factor_catalog_and_series_api(api, universe):
    catalog = api.get("/api/v1/factors?page_size=500").data["results"]
    assert {"rsi_14", "macd", "obv", "pe"} <= {f["name"] for f in catalog}
    assert next(f for f in catalog if f["name"] == "macd")["outputs"] == ["macd", "macd_signal", "macd_hist"]
    response = api.get("/api/v1/factors/AAPL?names=rsi_14,macd&days=5")
    assert response.status_code == 200
    assert set(response.data["factors"]) == {"rsi_14", "macd", "macd_signal", "macd_hist"}
    points = response.data["factors"]["rsi_14"]
    assert len(points) == 5 and points[-1]["date"] == END.isoformat() and 0 <= points[-1]["value"] <= 100
    assert "names" in api.get("/api/v1/factors/AAPL?names=rsi_99").data
    assert api.get("/api/v1/factors/NOPE?names=rsi_14").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_new_strong_signal_notifies_every_account_holder_once(make_user):
    from notifications.models import NotificationLog

    _seed()
    make_user("alice")
    make_user("bob")
    fired = [s for s in signals_run(as_of=END) if s.direction != "FLAT" and s.strength >= Decimal("0.5")]
    assert fired
    logs = NotificationLog.objects.filter(event_type="signal_fired", channel="websocket")
    assert logs.count() == 2 * len(fired)
    assert {log.account.user.username for log in logs} == {"alice", "bob"}
    signals_run(as_of=END)  # the same session again: nothing new fires
    assert logs.count() == 2 * len(fired)
