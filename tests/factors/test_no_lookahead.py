"""Bars after a date never change anything computed for that date.

Each check compares three panels on their common history: the history alone,
the history followed by the real future bars, and the history followed by
scrambled future bars. Results must be identical, bit for bit.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from factors.base import all_factors
from factors.fundamental import fundamentals_to_panel
from factors.panel import Panel, make_panel
from factors.scoring import (
    composite_scores,
    direction_and_strength,
    latest_signals,
    signal_evidence,
)
from marketdata.synthetic import DEMO_UNIVERSE, generate_fundamentals, generate_universe

HISTORY = 420
TOTAL = 520
START = dt.date(2018, 1, 2)


def _with_fundamentals(panel: Panel) -> Panel:
    records = generate_fundamentals(DEMO_UNIVERSE, START, panel["close"].index[-1].date())
    close = panel["close"]
    return panel | fundamentals_to_panel(records, close.index, close.columns)


@pytest.fixture(scope="module")
def panels() -> dict[str, Panel]:
    full = make_panel(generate_universe(DEMO_UNIVERSE, START, n_sessions=TOTAL, seed=11))
    history = {key: frame.iloc[:HISTORY] for key, frame in full.items()}
    rng = np.random.default_rng(0)
    scrambled = {}
    for key, frame in full.items():
        future = frame.iloc[HISTORY:].to_numpy() * rng.uniform(
            0.2, 5.0, (TOTAL - HISTORY, frame.shape[1])
        )
        scrambled[key] = pd.concat(
            [
                frame.iloc[:HISTORY],
                pd.DataFrame(future, index=frame.index[HISTORY:], columns=frame.columns),
            ]
        )
    return {
        "history": _with_fundamentals(history),
        "full": _with_fundamentals(full),
        "scrambled": _with_fundamentals(scrambled),
    }


def assert_same_history(frames: dict[str, pd.DataFrame]) -> None:
    reference = frames["history"]
    for name in ("full", "scrambled"):
        pd.testing.assert_frame_equal(frames[name].iloc[:HISTORY], reference, check_exact=True)


@pytest.mark.parametrize("factor", all_factors(), ids=lambda f: f.name)
def test_factor_values_ignore_later_bars(panels: dict[str, Panel], factor) -> None:
    computed = {name: factor.compute_outputs(panel) for name, panel in panels.items()}
    for output in factor.outputs:
        assert_same_history({name: outputs[output] for name, outputs in computed.items()})


def test_the_future_really_differs(panels: dict[str, Panel]) -> None:
    full, scrambled = panels["full"]["close"], panels["scrambled"]["close"]
    assert not np.allclose(full.iloc[HISTORY:], scrambled.iloc[HISTORY:])


def test_composite_scores_and_directions_ignore_later_bars(panels: dict[str, Panel]) -> None:
    scores = {name: composite_scores(panel) for name, panel in panels.items()}
    assert scores["history"].notna().any().any()
    assert_same_history(scores)
    directions = {name: direction_and_strength(score)[0] for name, score in scores.items()}
    strengths = {name: direction_and_strength(score)[1] for name, score in scores.items()}
    assert_same_history(directions)
    assert_same_history(strengths)


@pytest.mark.parametrize("row", [300, 380, HISTORY - 1])
@pytest.mark.parametrize("symbol", ["AAPL", "XOM", "NFLX"])
def test_signal_evidence_ignores_bars_after_as_of(
    panels: dict[str, Panel], row: int, symbol: str
) -> None:
    as_of = panels["history"]["close"].index[row]
    results = []
    for panel in panels.values():
        scores = composite_scores(panel)
        results.append(signal_evidence(scores, panel["close"], as_of, symbol, horizon=5))
    assert results[0] == results[1] == results[2]


def test_latest_signals_as_of_a_date_ignore_later_bars(panels: dict[str, Panel]) -> None:
    as_of = panels["history"]["close"].index[-1]
    results = [latest_signals(panel, as_of=as_of) for panel in panels.values()]
    assert results[0]
    assert results[0] == results[1] == results[2]
