"""Reads for the factor API and the signal engine."""

from __future__ import annotations

from datetime import date

import pandas as pd
from django.db.models import QuerySet

from factors.base import all_factors, factor_for_output
from factors.fundamental import fundamentals_to_panel
from factors.models import Signal
from marketdata.models import FundamentalSnapshot
from marketdata.selectors import panel_load


def factor_panel(symbols: list[str] | None = None, start: date | None = None, end: date | None = None) -> dict[str, pd.DataFrame]:
    """Bars plus as-of fundamentals ("eps", "book_value_per_share", "roe") for the factor library."""
    panel = panel_load(symbols, start, end)
    close = panel["close"]
    if close.empty:
        return panel
    records = FundamentalSnapshot.objects.filter(instrument__symbol__in=list(close.columns))
    if end is not None:
        records = records.filter(as_of__lte=end)
    frame = pd.DataFrame.from_records(
        list(records.values_list("instrument__symbol", "as_of", "eps", "book_value_per_share", "roe")),
        columns=["symbol", "as_of", "eps", "book_value_per_share", "roe"],
    )
    for column in ("eps", "book_value_per_share", "roe"):
        frame[column] = frame[column].astype("float64")
    panel.update(fundamentals_to_panel(frame, close.index, close.columns))
    return panel


def factors_catalog() -> list[dict]:
    return [
        {"name": f.name, "category": f.category, "lookback": f.lookback, "outputs": list(f.outputs),
         "description": f.description}
        for f in all_factors()
    ]


def factor_series(*, symbol: str, names: list[str], days: int) -> dict[str, list[dict]]:
    """``{output: [{date, value}]}`` for the last ``days`` sessions; every output of each factor asked for.

    Raises KeyError naming an unknown factor or output.
    """
    factors = []
    for name in names:
        factor = factor_for_output(name)
        if factor not in factors:
            factors.append(factor)
    panel = factor_panel([symbol])
    series: dict[str, list[dict]] = {}
    for factor in factors:
        for output, frame in factor.compute_outputs(panel).items():
            values = frame[symbol].iloc[-days:] if symbol in frame else pd.Series(dtype="float64")
            series[output] = [
                {"date": ts.date().isoformat(), "value": None if pd.isna(v) else round(float(v), 10)}
                for ts, v in values.items()
            ]
    return series


def signals_latest(*, direction: str | None = None) -> QuerySet[Signal]:
    """The signals of the most recent scan, strongest first."""
    as_of = Signal.objects.order_by("-as_of").values_list("as_of", flat=True).first()
    qs = Signal.objects.filter(as_of=as_of) if as_of is not None else Signal.objects.none()
    if direction:
        qs = qs.filter(direction=direction)
    return qs.order_by("-strength", "symbol")
