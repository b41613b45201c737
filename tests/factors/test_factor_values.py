"""Computing several factors of one panel together: same numbers, each computed once."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from factors import arrays
from factors.base import Factor, FactorValues, all_factors, get_factor
from factors.fundamental import fundamentals_to_panel
from factors.panel import Panel, make_panel
from factors.scoring import DEFAULT_WEIGHTS, composite_scores
from marketdata.synthetic import DEMO_UNIVERSE, generate_fundamentals, generate_universe

START = dt.date(2016, 1, 4)
ALL_OUTPUTS = [output for factor in all_factors() for output in factor.outputs]
FACTOR_NAMES = {factor.name for factor in all_factors()}


@pytest.fixture(scope="module")
def panel() -> Panel:
    bars = make_panel(generate_universe(DEMO_UNIVERSE, START, n_sessions=400, seed=5))
    gapped = {key: frame.copy() for key, frame in bars.items()}
    for frame in gapped.values():
        frame.iloc[:90, frame.columns.get_loc("TSLA")] = np.nan  # listed late
        frame.iloc[200:204, frame.columns.get_loc("AAPL")] = np.nan  # a halt
        frame.iloc[:390, frame.columns.get_loc("NFLX")] = np.nan  # 10 bars only
        frame.iloc[:, frame.columns.get_loc("KO")] = np.nan  # no bars at all
    close = gapped["close"]
    records = generate_fundamentals(DEMO_UNIVERSE, START, close.index[-1].date())
    return gapped | fundamentals_to_panel(records, close.index, close.columns)


def test_all_factors_at_once_equal_each_factor_alone(panel: Panel) -> None:
    together = FactorValues(panel, ALL_OUTPUTS)
    for factor in all_factors():
        alone = factor.compute_outputs(panel)
        for output in factor.outputs:
            pd.testing.assert_frame_equal(together[output], alone[output], check_exact=True)


def test_block_size_does_not_change_a_single_bit(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_block = FactorValues(panel, ALL_OUTPUTS)
    monkeypatch.setattr(arrays, "BLOCK_BYTES", 3 * 8 * len(panel["close"]))  # 3 symbols a block
    small_blocks = FactorValues(panel, ALL_OUTPUTS)
    for output in ALL_OUTPUTS:
        pd.testing.assert_frame_equal(small_blocks[output], one_block[output], check_exact=True)
    scores = composite_scores(panel)
    monkeypatch.setattr(arrays, "BLOCK_BYTES", 1 << 30)
    pd.testing.assert_frame_equal(composite_scores(panel), scores, check_exact=True)


def test_symbols_without_enough_bars_are_undefined_not_errors(panel: Panel) -> None:
    values = FactorValues(panel, ALL_OUTPUTS)
    for output in ALL_OUTPUTS:
        assert values[output]["KO"].isna().all(), output
    for factor in all_factors():
        if factor.lookback >= 10:
            for output in factor.outputs:
                assert values[output]["NFLX"].isna().all(), output


def test_composite_reuses_the_outputs_already_computed(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes: list[str] = []
    for factor in all_factors():
        original = type(factor).write

        def counted(self: Factor, data, out, original=original) -> None:
            writes.append(self.name)
            original(self, data, out)

        monkeypatch.setattr(type(factor), "write", counted)
    values = FactorValues(panel, ALL_OUTPUTS)
    computed = len(writes)
    scores = composite_scores(panel, factor_values=values)
    assert len(writes) == computed
    pd.testing.assert_frame_equal(scores, composite_scores(panel), check_exact=True)
    assert len(writes) > computed  # without them the composite computes its six outputs itself
    assert sorted(writes[computed:]) == sorted(
        get_factor(output).name if output in FACTOR_NAMES else "macd" for output in DEFAULT_WEIGHTS
    )


def test_factor_values_of_another_panel_are_refused(panel: Panel) -> None:
    other = {key: frame.iloc[:-1] for key, frame in panel.items()}
    with pytest.raises(ValueError, match="another panel"):
        composite_scores(other, factor_values=FactorValues(panel))


def test_frames_labelled_in_another_order_are_aligned_on_the_close(panel: Panel) -> None:
    shuffled = dict(panel)
    shuffled["volume"] = panel["volume"][list(reversed(panel["volume"].columns))]
    for name in ("obv", "vwap_dist_20", "amihud_20", "volume_ratio_20"):
        pd.testing.assert_frame_equal(
            get_factor(name).compute(shuffled), get_factor(name).compute(panel), check_exact=True
        )


def test_an_empty_panel_gives_empty_frames(panel: Panel) -> None:
    empty = {key: frame.iloc[:0] for key, frame in panel.items()}
    values = FactorValues(empty, ALL_OUTPUTS)
    for output in ALL_OUTPUTS:
        assert values[output].shape == (0, len(DEMO_UNIVERSE))
    assert composite_scores(empty).shape == (0, len(DEMO_UNIVERSE))


def test_computing_reads_the_panel_without_changing_it(panel: Panel) -> None:
    before = {key: frame.copy() for key, frame in panel.items()}
    FactorValues(panel, ALL_OUTPUTS)
    composite_scores(panel)
    for key, frame in panel.items():
        pd.testing.assert_frame_equal(frame, before[key], check_exact=True)
