"""Time the backtest engine: sma_cross(10, 20) on synthetic daily bars.

    python benchmarks/backtest_bench.py [--bars 1000000] [--symbols 500] [--symbol-bars 2520]

Two runs: one symbol x 1,000,000 bars, and 500 symbols x 2,520 bars (ten
years) in one portfolio. Each runs on the fast path (the loop visits only
bars where something can happen) and on the general path (``on_bar`` on
every bar); the script checks that both give identical fills and prints
bars/second (symbol-bars for the universe run) and the number of trades.

The universe run is ten years of stock-like bars (1.5 % daily volatility)
paying 0.2 % of notional per fill. A million bars is four thousand years, and
an all-in strategy without an edge loses about volatility**2 / 2 per bar to
compounding (e**-112 at 1.5 %): it would run out of cash, after which its
orders are refused and the run stops measuring trading. So the one-symbol
run uses a quiet walk (0.2 % per bar), no commission and $1M, and every
signal trades. A random walk crosses its moving averages equally often
whatever its volatility, so the work per bar is the same.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest.engine import Backtest, CommissionModel
from backtest.result import BacktestResult
from backtest.strategies import get_strategy


def synthetic_panel(n_bars: int, n_symbols: int, daily_vol: float, seed: int = 7) -> dict[str, pd.DataFrame]:
    """Daily OHLCV bars whose price wanders but stays in a realistic range.

    The log close is a random walk (``daily_vol`` per bar) pinned every
    2,000 bars by a Brownian bridge, so a million bars neither explode nor
    vanish. Opens gap from the previous close by a third of that volatility.
    """
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.0, daily_vol, size=(n_bars, n_symbols))
    walk = np.cumsum(steps, axis=0)
    bars = np.arange(n_bars)
    knots = np.unique(np.append(np.arange(0, n_bars, 2_000), n_bars - 1))
    for col in range(n_symbols):
        walk[:, col] -= np.interp(bars, knots, walk[knots, col])
    close = 100.0 * np.exp(walk + rng.uniform(-1.0, 1.0, size=n_symbols))
    previous = np.vstack([close[:1], close[:-1]])
    open_ = previous * np.exp(rng.normal(0.0, daily_vol / 3.0, size=close.shape))
    spread = np.abs(rng.normal(0.0, daily_vol / 2.0, size=close.shape))
    high = np.maximum(open_, close) * (1.0 + spread)
    low = np.minimum(open_, close) * (1.0 - spread)
    volume = rng.integers(100_000, 5_000_000, size=close.shape).astype(float)
    index = pd.bdate_range("1900-01-01", periods=n_bars, name="date")
    columns = [f"SYM{col:03d}" for col in range(n_symbols)]
    return {
        name: pd.DataFrame(values, index=index, columns=columns)
        for name, values in zip(
            ("open", "high", "low", "close", "volume"), (open_, high, low, close, volume), strict=True
        )
    }


def timed(
    panel: dict[str, pd.DataFrame], capital: float, commission: float, fast_path: bool
) -> tuple[BacktestResult, float]:
    strategy = get_strategy("sma_cross")({"fast": 10, "slow": 20})
    backtest = Backtest(
        panel, strategy, initial_capital=capital, commission=CommissionModel(rate=commission), fast_path=fast_path
    )
    started = time.perf_counter()
    result = backtest.run()
    return result, time.perf_counter() - started


def bench(label: str, panel: dict[str, pd.DataFrame], capital: float, commission: float) -> None:
    n_bars, n_symbols = panel["close"].shape
    total = n_bars * n_symbols
    fast, fast_seconds = timed(panel, capital, commission, fast_path=True)
    general, general_seconds = timed(panel, capital, commission, fast_path=False)
    identical = fast.fills == general.fills and fast.equity.equals(general.equity)
    refused = sum(order.status.value == "rejected" for order in fast.orders)
    print(
        f"{label}: {n_symbols} symbol(s) x {n_bars:,} bars, commission {commission:.2%}: "
        f"{len(fast.trades):,} closed trades, {len(fast.fills):,} fills, {refused:,} orders refused, "
        f"final equity {fast.final_equity:,.2f}"
    )
    print(f"  fast path    {fast_seconds:7.3f} s  {total / fast_seconds:>12,.0f} bars/s")
    print(f"  general path {general_seconds:7.3f} s  {total / general_seconds:>12,.0f} bars/s")
    print(f"  identical fills and equity: {identical}")
    if not identical:
        raise SystemExit("fast and general paths disagree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000, help="bars for the one-symbol run")
    parser.add_argument("--symbols", type=int, default=500, help="symbols for the universe run")
    parser.add_argument("--symbol-bars", type=int, default=2_520, help="bars per symbol for the universe run")
    args = parser.parse_args()
    bench("one symbol", synthetic_panel(args.bars, 1, daily_vol=0.002), capital=1_000_000.0, commission=0.0)
    # Enough capital that 1/500 of it buys whole shares of a ~$100 stock.
    bench(
        "universe",
        synthetic_panel(args.symbol_bars, args.symbols, daily_vol=0.015),
        capital=10_000_000.0,
        commission=0.002,
    )


if __name__ == "__main__":
    main()
