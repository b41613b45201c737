"""``act_by_position`` tables: the engine's fast loops place and fill exactly what ``on_bar`` does.

The reference is ``on_bar`` through the general broker (``fast_path=False``);
the fast path runs the same tables without calling ``on_bar`` (one loop for
one symbol whose orders all fill on the next bar, one for everything else).
Every comparison is exact: fills, trades, open trades, order outcomes,
equity and metrics.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtest.engine import Act, Backtest, CommissionModel, Data
from backtest.sizing import AllIn, FixedShares, FractionOfEquity, Sizer, VolatilityTarget
from backtest.strategies import get_strategy
from backtest.strategies.base import Strategy
from tests.backtest.conftest import uneven_volume


class Tabled(Strategy):
    """Given tables of ``Act`` codes; ``on_bar`` reads them through the order API."""

    def __init__(self, flat: np.ndarray, long: np.ndarray, short: np.ndarray, size: Sizer, tag: str = "t"):
        super().__init__()
        self.tables = {"flat": flat, "long": long, "short": short}
        self.size = size
        self.tag = tag

    def init(self, data: Data) -> None:
        for name, table in self.tables.items():
            self.indicator(name, table)
        self.act_by_position(**self.tables, size=self.size, tag=self.tag)
        del self.tables  # full-length arrays may not stay on the strategy

    def on_bar(self, data: Data) -> None:
        for col in range(len(data.symbols)):
            held = self.position(col)
            act = int(data["flat" if held == 0 else ("long" if held > 0 else "short")][-1, col])
            if act in (Act.CLOSE, Act.CLOSE_AND_BUY, Act.CLOSE_AND_SELL):
                self.close(col, tag=self.tag)
            if act in (Act.BUY, Act.CLOSE_AND_BUY):
                self.buy(col, size=self.size, tag=self.tag)
            elif act in (Act.SELL, Act.CLOSE_AND_SELL):
                self.sell(col, size=self.size, tag=self.tag)


def assert_same(fast, general):
    assert fast.fills == general.fills
    assert fast.trades == general.trades
    assert fast.open_trades == general.open_trades
    assert fast.equity.equals(general.equity)
    assert [(o.id, o.side, o.sizing, o.amount, o.placed_bar, o.tag, o.status, o.reason) for o in fast.orders] == [
        (o.id, o.side, o.sizing, o.amount, o.placed_bar, o.tag, o.status, o.reason) for o in general.orders
    ]
    assert fast.metrics == general.metrics


def both_paths(panel, make_strategy, **kwargs):
    fast = Backtest(panel, make_strategy(), fast_path=True, **kwargs).run()
    general = Backtest(panel, make_strategy(), fast_path=False, **kwargs).run()
    assert_same(fast, general)
    return fast


SIZES = st.one_of(
    st.just(AllIn()),
    st.floats(0.05, 1.0).map(FractionOfEquity),
    st.integers(1, 400).map(FixedShares),
    st.just(VolatilityTarget(0.3, lookback=5)),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 10_000),
    n_symbols=st.integers(1, 3),
    gaps=st.booleans(),
    busy=st.floats(0.05, 0.6),
    size=SIZES,
    capital=st.sampled_from([300.0, 10_000.0, 1_000_000.0]),
    commission=st.sampled_from([CommissionModel(), CommissionModel(rate=0.002, per_share=0.01, minimum=1.0)]),
    slippage_bps=st.sampled_from([0.0, 7.0]),
    spread=st.sampled_from([0.0, 0.003]),
    max_volume_fraction=st.sampled_from([None, 0.002, 0.05]),
)
def test_random_tables_fill_exactly_as_on_bar_does(
    random_panel_of, seed, n_symbols, gaps, busy, size, capital, commission, slippage_bps, spread, max_volume_fraction
):
    rng = np.random.default_rng(seed)
    panel = random_panel_of(80, [f"S{k}" for k in range(n_symbols)], seed=seed, daily_vol=0.03)
    if gaps:  # symbols without bars: orders wait for the next one
        for frame in panel.values():
            frame.iloc[rng.integers(1, 79, size=6), rng.integers(0, n_symbols, size=6)] = np.nan
    uneven_volume(panel, 1_000, 3_000_000, seed=seed)  # the cap cuts some fills, in part or whole
    tables = [
        np.where(rng.random((80, n_symbols)) < busy, rng.integers(1, 6, size=(80, n_symbols)), 0).astype(np.int8)
        for _ in range(3)
    ]

    both_paths(
        panel,
        lambda: Tabled(*tables, size=size),
        initial_capital=capital,
        commission=commission,
        slippage_bps=slippage_bps,
        spread=spread,
        max_volume_fraction=max_volume_fraction,
    )


@pytest.mark.parametrize(
    ("strategy_id", "params"),
    [
        ("sma_cross", {"fast": 3, "slow": 8}),
        ("sma_cross", {"fast": 4, "slow": 9, "allow_short": False}),
        ("rsi_reversion", {"allow_short": True, "period": 5}),
        ("buy_and_hold", {}),
    ],
)
@pytest.mark.parametrize("capital", [150.0, 10_000.0])
@pytest.mark.parametrize(
    "costs", [{}, {"spread": 0.0015}, {"spread": 0.0015, "max_volume_fraction": 0.01}], ids=["", "spread", "spread-cap"]
)
def test_built_in_strategies_on_one_symbol_fill_as_on_bar_with_costs_and_refusals(
    random_panel_of, strategy_id, params, capital, costs
):
    # 150 of capital cannot always pay for a share: refusals on both paths alike. A cap of 1 % of
    # 2,000 to 40,000 shares cuts the 10,000 of capital's fills (about 200 shares) now and then.
    panel = uneven_volume(random_panel_of(3_000, ["A"], seed=21, daily_vol=0.015), 2_000, 40_000, seed=21)

    result = both_paths(
        panel,
        lambda: get_strategy(strategy_id)(params),
        initial_capital=capital,
        commission=CommissionModel(rate=0.002, per_share=0.01, minimum=1.0),
        slippage_bps=5,
        **costs,
    )

    assert result.fills
    if costs.get("max_volume_fraction") and capital > 1_000 and strategy_id != "buy_and_hold":  # it fills once
        assert result.to_dict()["volume_capped_orders"], "the cap should cut some fills"


def test_a_table_run_reports_progress_up_to_one(random_panel_of):
    seen: list[float] = []

    Backtest(random_panel_of(2_000, ["A"], seed=3), get_strategy("sma_cross")(), progress=seen.append).run()

    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) > 10


def reference_fifo(fills):
    """Closed trades and open lots from the fills, as a broker books them: one lot at a time, oldest first."""
    lots: dict[str, deque] = {}
    closed = []
    for fill in fills:
        side = 1 if fill.side == "buy" else -1
        book = lots.setdefault(fill.symbol, deque())
        left = fill.quantity
        while left and book and book[0][0] * side < 0:
            lot = book[0]
            lot_shares = abs(lot[0])
            take = min(left, lot_shares)
            direction = 1 if lot[0] > 0 else -1
            entry_fee = lot[3] * take / lot_shares
            exit_fee = fill.commission * take / fill.quantity
            pnl = direction * (fill.price - lot[1]) * take - entry_fee - exit_fee
            fee = entry_fee + exit_fee
            closed.append((fill.symbol, direction, lot[2], fill.bar, lot[1], fill.price, take, pnl, fee))
            if take == lot_shares:
                book.popleft()
            else:
                lot[0] -= direction * take
                lot[3] -= entry_fee
            left -= take
        if left:
            book.append([side * left, fill.price, fill.bar, fill.commission * left / fill.quantity])
    still_open = [(symbol, lot[0], lot[1], lot[2], lot[3]) for symbol, book in lots.items() for lot in book]
    return closed, still_open


class Scaler(Strategy):
    """Buys and sells random share counts: lots opened, closed in pieces and reversed."""

    def __init__(self, seed: int):
        super().__init__()
        self.rng = np.random.default_rng(seed)

    def on_bar(self, data: Data) -> None:
        for col in range(len(data.symbols)):
            if self.rng.random() < 0.4:
                quantity = int(self.rng.integers(1, 30))
                (self.buy if self.rng.random() < 0.5 else self.sell)(col, quantity)


@pytest.mark.parametrize("seed", range(5))
def test_trades_are_the_fills_booked_fifo_lot_by_lot(random_panel_of, seed):
    panel = random_panel_of(250, ["A", "B"], seed=seed)

    result = Backtest(
        panel,
        Scaler(seed),
        initial_capital=1_000_000.0,
        commission=CommissionModel(rate=0.001, per_share=0.013, minimum=1.0),
    ).run()

    closed, still_open = reference_fifo(result.fills)
    lots_closed_in_pieces = {trade[:3] for trade in closed if [t[:3] for t in closed].count(trade[:3]) > 1}
    assert len(closed) > 100 and lots_closed_in_pieces
    assert [
        (t.symbol, 1 if t.direction == "long" else -1, t.entry_bar, t.exit_bar, t.entry_price, t.exit_price)
        + (t.quantity, t.pnl, t.commission)
        for t in result.trades
    ] == closed
    assert sorted(
        (t.symbol, t.quantity if t.direction == "long" else -t.quantity, t.entry_price, t.entry_bar, t.commission)
        for t in result.open_trades
    ) == sorted(still_open)


def test_act_by_position_refuses_bad_tables(random_panel_of):
    panel = random_panel_of(10, ["A", "B"])

    class Tables(Strategy):
        def __init__(self, **tables):
            super().__init__()
            self.given = tables

        def init(self, data: Data) -> None:
            self.act_by_position(**self.given)

        def on_bar(self, data: Data) -> None:
            pass

    with pytest.raises(ValueError, match=r"long table has shape \(10, 1\); expected \(10, 2\)"):
        Backtest(panel, Tables(long=np.zeros((10, 1), dtype=int))).run()
    with pytest.raises(ValueError, match="flat table holds codes that are not Act values"):
        Backtest(panel, Tables(flat=np.full((10, 2), 9))).run()
    with pytest.raises(ValueError, match="flat table holds codes that are not Act values"):
        Backtest(panel, Tables(flat=np.full((10, 2), 1.5))).run()

    class Late(Strategy):
        def on_bar(self, data: Data) -> None:
            self.act_by_position(flat=np.zeros((10, 2), dtype=int))

    with pytest.raises(RuntimeError, match="init"):
        Backtest(panel, Late()).run()
