"""A strategy cannot see past the current bar: by construction, not by discipline."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.engine import Backtest, Data, StrategyError
from backtest.strategies.base import Strategy


class Peeker(Strategy):
    """Tries every way the public API offers to read the next bar."""

    def init(self, data: Data) -> None:
        self.indicator("doubled", data.close * 2)
        self.attempts: list[str] = []
        self.lengths: list[tuple[int, ...]] = []

    def on_bar(self, data: Data) -> None:
        t = data.t
        self.lengths.append(
            (len(data), len(data.close), len(data["close"]), len(data["doubled"]), len(data.frame("close")))
        )
        for name, peek in (
            ("close", lambda: data.close[t + 1]),
            ("open", lambda: data["open"][t + 1]),
            ("indicator", lambda: data["doubled"][t + 1]),
        ):
            try:
                peek()
            except IndexError:
                continue
            self.attempts.append(name)
        # The last row is the current bar.
        assert data.close[-1, 0] == data.frame("close").iloc[-1, 0]
        assert data["doubled"][-1, 0] == 2 * data.close[-1, 0]


def test_indexing_the_next_bar_raises_index_error(random_panel_of):
    strategy = Peeker()

    Backtest(random_panel_of(30, ["A"]), strategy).run()

    assert strategy.attempts == [], "a strategy read a bar after the current one"
    assert strategy.lengths == [(t + 1,) * 5 for t in range(30)]


def test_the_arrays_a_strategy_sees_are_read_only(random_panel_of):
    class Writer(Strategy):
        def on_bar(self, data: Data) -> None:
            data.close[-1, 0] = 0.0

    with pytest.raises(ValueError, match="read-only"):
        Backtest(random_panel_of(5, ["A"]), Writer()).run()


def test_keeping_the_full_history_as_an_attribute_is_refused(random_panel_of):
    class Stasher(Strategy):
        def init(self, data: Data) -> None:
            self.future_close = np.asarray(data.close)

        def on_bar(self, data: Data) -> None:
            self.future_close[data.t + 1]

    with pytest.raises(StrategyError, match=r"self.indicator\('future_close'"):
        Backtest(random_panel_of(10, ["A"]), Stasher()).run()


def test_an_order_never_fills_on_the_bar_it_was_placed(panel_of, scripted):
    # Bar 0's range spans the limit, but the order only exists at bar 0's close.
    panel = panel_of([(100.0, 101.0, 90.0, 95.0), (99.0, 99.5, 98.0, 99.0), (97.0, 98.0, 89.0, 96.0)])
    strategy = scripted({0: lambda s, d: s.buy(0, 1, limit=91.0)})

    result = Backtest(panel, strategy).run()

    (fill,) = result.fills
    assert (fill.bar, fill.price) == (2, 91.0)


def test_indicators_and_wake_masks_are_for_init_only(random_panel_of):
    class Late(Strategy):
        def on_bar(self, data: Data) -> None:
            self.indicator("late", data.close)

    with pytest.raises(RuntimeError, match="init"):
        Backtest(random_panel_of(5, ["A"]), Late()).run()
