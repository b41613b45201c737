"""Time the backtest engine: sma_cross(10, 20) on synthetic daily bars.

    python benchmarks/backtest_bench.py [--bars 1000000] [--symbols 500] [--symbol-bars 2520]
        [--spread 0.0005] [--max-volume-fraction 0.01]
    python benchmarks/backtest_bench.py --compare [--repeats 3] [--bt-symbols 500]

Without ``--compare``: two runs, one symbol x 1,000,000 bars and 500 symbols
x 2,520 bars (ten years) in one portfolio. Each runs on the fast path (the
loop visits only bars where something can happen) and on the general path
(``on_bar`` on every bar); the script checks that both give identical fills
and prints bars/second (symbol-bars for the universe run) and the number of
trades. ``--spread`` and ``--max-volume-fraction`` add those costs to both
runs (off by default); with a cap, the one-symbol run takes the general table
loop (a cut close leaves a position, so orders interact).

The universe run is ten years of stock-like bars (1.5 % daily volatility)
paying 0.2 % of notional per fill. A million bars is four thousand years, and
an all-in strategy without an edge loses about volatility**2 / 2 per bar to
compounding (e**-112 at 1.5 %): it would run out of cash, after which its
orders are refused and the run stops measuring trading. So the one-symbol
run uses a quiet walk (0.2 % per bar), no commission and $1M, and every
signal trades. A random walk crosses its moving averages equally often
whatever its volatility, so the work per bar is the same.

``--compare`` runs the same two workloads through AlphaLoop, vectorbt and
backtesting.py (benchmark-only dependencies, requirements-dev.txt) on the same
bars with the same signals (the SMAs and crossovers are computed the same way
inside each timed run), and prints each one's time, trades and final equity
and the ratios. The settings are the ones the three share exactly:

- walk: 1 symbol x 1,000,000 bars, long/short (a cross closes the position and
  opens the other side), all-in, whole shares, no commission, $1M;
- portfolio: 500 symbols x 2,520 bars in one account of $10M, long only (a
  cross up buys 1/500 of the equity, capped by the cash; a cross down sells),
  whole shares, no commission. vectorbt models the shared account
  (``cash_sharing``, its default order of columns within a bar: AlphaLoop
  fills sells first, which only matters when the cash runs short, and the
  script counts any trade that differs); backtesting.py trades one symbol
  per run, so it runs each symbol alone with $10M / 500 and its trades match
  on dates and prices but not on share counts.

AlphaLoop and vectorbt are timed as the best of ``--repeats`` runs taken in
turns (vectorbt after a first call that compiles its numba code, timed
separately with an empty numba cache, as on a fresh machine); backtesting.py
once. AlphaLoop's time is ``Backtest.run()``: indicators, orders, fills,
equity curve, trades and metrics; its ``Trade``/``Fill``/``Order`` objects are
built when first read (the comparison reads them after the clock stops).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backtest.engine import Backtest, CommissionModel
from backtest.result import BacktestResult
from backtest.strategies import get_strategy
from backtest.strategies.sma_cross import crossover_signal

FAST, SLOW = 10, 20


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
    panel: dict[str, pd.DataFrame],
    capital: float,
    commission: float,
    fast_path: bool = True,
    allow_short: bool = True,
    **costs: float | None,
) -> tuple[BacktestResult, float]:
    strategy = get_strategy("sma_cross")({"fast": FAST, "slow": SLOW, "allow_short": allow_short})
    backtest = Backtest(
        panel,
        strategy,
        initial_capital=capital,
        commission=CommissionModel(rate=commission),
        fast_path=fast_path,
        **costs,
    )
    started = time.perf_counter()
    result = backtest.run()
    return result, time.perf_counter() - started


def bench(
    label: str, panel: dict[str, pd.DataFrame], capital: float, commission: float, **costs: float | None
) -> None:
    n_bars, n_symbols = panel["close"].shape
    total = n_bars * n_symbols
    fast, fast_seconds = timed(panel, capital, commission, fast_path=True, **costs)
    general, general_seconds = timed(panel, capital, commission, fast_path=False, **costs)
    identical = fast.fills == general.fills and fast.equity.equals(general.equity)
    refused = sum(order.status.value == "rejected" for order in fast.orders)
    capped = sum(order.reason.startswith("volume cap") for order in fast.orders)
    extra = "".join(f", {name} {value}" for name, value in costs.items() if value)
    print(
        f"{label}: {n_symbols} symbol(s) x {n_bars:,} bars, commission {commission:.2%}{extra}: "
        f"{len(fast.trades):,} closed trades, {len(fast.fills):,} fills, {refused:,} orders refused, "
        + (f"{capped:,} cut by the volume cap, " if costs.get("max_volume_fraction") else "")
        + f"final equity {fast.final_equity:,.2f}"
    )
    print(f"  fast path    {fast_seconds:7.3f} s  {total / fast_seconds:>12,.0f} bars/s")
    print(f"  general path {general_seconds:7.3f} s  {total / general_seconds:>12,.0f} bars/s")
    print(f"  identical fills and equity: {identical}")
    if not identical:
        raise SystemExit("fast and general paths disagree")


# -- --compare: the same workloads through vectorbt and backtesting.py -------------


@dataclass
class Outcome:
    """One engine's run: seconds, trades as (symbol column, entry bar, exit bar or -1 if open, signed shares)."""

    seconds: float
    closed: list[tuple[int, int, int, int]]
    open: list[tuple[int, int, int, int]]
    final_equity: float
    records_seconds: float = 0.0  # AlphaLoop: reading every Trade, Fill and Order object afterwards


def crossovers(close: pd.DataFrame) -> np.ndarray:
    """sma_cross's signal: +1 / -1 on the bar the fast SMA crosses above / below the slow one."""
    fast = close.rolling(FAST, min_periods=FAST).mean().to_numpy()
    slow = close.rolling(SLOW, min_periods=SLOW).mean().to_numpy()
    return crossover_signal(fast, slow)


def next_bar(signal: np.ndarray) -> np.ndarray:
    """``signal`` moved one bar later: decided on a bar's close, traded at the next bar's open."""
    shifted = np.zeros_like(signal)
    shifted[1:] = signal[:-1]
    return shifted


def run_alphaloop(panel: dict[str, pd.DataFrame], capital: float, allow_short: bool) -> Outcome:
    result, seconds = timed(panel, capital, 0.0, allow_short=allow_short)
    started = time.perf_counter()
    len(list(result.trades)) + len(list(result.fills)) + len(list(result.orders))
    records_seconds = time.perf_counter() - started
    columns = {symbol: col for col, symbol in enumerate(panel["close"].columns)}

    def signed(trade) -> int:
        return trade.quantity if trade.direction == "long" else -trade.quantity

    closed = [(columns[t.symbol], t.entry_bar, t.exit_bar, signed(t)) for t in result.trades]
    still_open = [(columns[t.symbol], t.entry_bar, -1, signed(t)) for t in result.open_trades]
    return Outcome(seconds, sorted(closed), sorted(still_open), result.final_equity, records_seconds)


def vectorbt_trades(portfolio) -> tuple[list[tuple[int, int, int, int]], list[tuple[int, int, int, int]]]:
    records = portfolio.trades.values
    closed, still_open = [], []
    for col, entry, exit_, size, direction, status in zip(
        records["col"].tolist(),
        records["entry_idx"].tolist(),
        records["exit_idx"].tolist(),
        records["size"].tolist(),
        records["direction"].tolist(),
        records["status"].tolist(),
        strict=True,
    ):
        shares = int(size) if direction == 0 else -int(size)
        (closed if status == 1 else still_open).append((col, entry, exit_ if status == 1 else -1, shares))
    return sorted(closed), sorted(still_open)


def vectorbt_walk(panel: dict[str, pd.DataFrame], capital: float) -> Outcome:
    import vectorbt as vbt

    started = time.perf_counter()
    signal = next_bar(crossovers(panel["close"]))[:, 0]
    portfolio = vbt.Portfolio.from_signals(
        panel["close"].iloc[:, 0].to_numpy(),
        entries=signal > 0,
        short_entries=signal < 0,
        price=panel["open"].iloc[:, 0].to_numpy(),
        size=np.inf,
        size_granularity=1.0,
        upon_opposite_entry="reverse",
        init_cash=capital,
        fees=0.0,
        freq="1D",
    )
    n_trades, final_equity = int(portfolio.trades.count()), float(portfolio.final_value())
    seconds = time.perf_counter() - started
    closed, still_open = vectorbt_trades(portfolio)
    assert len(closed) + len(still_open) == n_trades
    return Outcome(seconds, closed, still_open, final_equity)


def vectorbt_portfolio(panel: dict[str, pd.DataFrame], capital: float) -> Outcome:
    import vectorbt as vbt

    started = time.perf_counter()
    n_symbols = panel["close"].shape[1]
    signal = next_bar(crossovers(panel["close"]))
    # A target of 1/N of the account's value (at this bar's opens) on a cross up, 0 on a cross down.
    target = np.where(signal > 0, 1.0 / n_symbols, np.where(signal < 0, 0.0, np.nan))
    opens = panel["open"].to_numpy()
    portfolio = vbt.Portfolio.from_orders(
        panel["close"].to_numpy(),
        size=target,
        size_type="targetpercent",
        price=opens,
        val_price=opens,
        size_granularity=1.0,
        init_cash=capital,
        fees=0.0,
        cash_sharing=True,
        group_by=True,
        call_seq="default",
        freq="1D",
    )
    n_trades, final_equity = int(portfolio.trades.count().sum()), float(portfolio.final_value())
    seconds = time.perf_counter() - started
    closed, still_open = vectorbt_trades(portfolio)
    assert len(closed) + len(still_open) == n_trades
    return Outcome(seconds, closed, still_open, final_equity)


def backtesting_py(panel: dict[str, pd.DataFrame], capital: float, allow_short: bool, n_symbols: int) -> Outcome:
    """backtesting.py's own SmaCross, one run per symbol, each with capital / (symbols in the panel)."""
    from backtesting import Backtest as PeerBacktest
    from backtesting import Strategy as PeerStrategy
    from backtesting.lib import crossover

    def sma(values: np.ndarray, length: int) -> np.ndarray:
        return pd.Series(values).rolling(length, min_periods=length).mean().to_numpy()

    class SmaCross(PeerStrategy):
        def init(self) -> None:
            self.fast = self.I(sma, self.data.Close, FAST)
            self.slow = self.I(sma, self.data.Close, SLOW)

        def next(self) -> None:
            if crossover(self.fast, self.slow):
                self.position.close()
                self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()
                if allow_short:
                    self.sell()

    share = capital / panel["close"].shape[1]
    closed, still_open, final_equity, seconds = [], [], 0.0, 0.0
    for col in range(n_symbols):
        frame = pd.DataFrame({name.capitalize(): panel[name].iloc[:, col] for name in panel})
        started = time.perf_counter()
        stats = PeerBacktest(frame, SmaCross, cash=share, commission=0.0).run()
        seconds += time.perf_counter() - started
        trades = stats._trades
        for entry, exit_, size in zip(
            trades["EntryBar"].tolist(), trades["ExitBar"].tolist(), trades["Size"].tolist(), strict=True
        ):
            closed.append((col, int(entry), int(exit_), int(size)))
        final_equity += float(stats["Equity Final [$]"])
    return Outcome(seconds, sorted(closed), sorted(still_open), final_equity)


def best_of(repeats: int, runs: dict[str, Callable[[], Outcome]]) -> dict[str, Outcome]:
    """Each run ``repeats`` times, taking turns (a change in the machine's load hits all alike); the fastest of each."""
    best: dict[str, Outcome] = {}
    for _ in range(repeats):
        for name, run in runs.items():
            outcome = run()
            if name not in best or outcome.seconds < best[name].seconds:
                best[name] = outcome
    return best


def same_trades(ours: list[tuple], theirs: list[tuple], with_shares: bool) -> int:
    """How many of ``theirs`` are also among ours, on shares too or on symbol and dates only."""
    if not with_shares:
        ours, theirs = [trade[:3] for trade in ours], [trade[:3] for trade in theirs]
    return sum((Counter(ours) & Counter(theirs)).values())


def report(
    label: str, outcomes: dict[str, Outcome], notes: dict[str, str], dates_only: frozenset[str] = frozenset()
) -> None:
    ours = outcomes["AlphaLoop"]
    print(label)
    header = f"{'seconds':>9}  {'closed trades':>13}  {'open':>4}  {'final equity':>16}  {'AlphaLoop / peer':>16}"
    print(f"  {'engine':<28}{header}")
    for name, outcome in outcomes.items():
        ratio = "" if name == "AlphaLoop" else f"{ours.seconds / outcome.seconds:.2f}x"
        print(
            f"  {name:<28}{outcome.seconds:9.3f}  {len(outcome.closed):>13,}  {len(outcome.open):>4}  "
            f"{outcome.final_equity:>16,.2f}  {ratio:>16}"
        )
    print(
        f"  AlphaLoop: reading every Trade, Fill and Order object of the result afterwards takes "
        f"{ours.records_seconds:.3f} s more (they are built when first read)"
    )
    for name, outcome in outcomes.items():
        if name == "AlphaLoop" or name.endswith("first call"):
            continue
        with_shares = name not in dates_only
        matched = same_trades(ours.closed + ours.open, outcome.closed + outcome.open, with_shares)
        total = len(outcome.closed) + len(outcome.open)
        what = "entry bar, exit bar, direction and shares" if with_shares else "symbol, entry bar and exit bar"
        note = notes.get(name, "") if matched < total or name in dates_only else ""
        print(f"  {name}: {matched:,} of its {total:,} trades are AlphaLoop's ({what}){note}")


def compare(args: argparse.Namespace) -> None:
    # A fresh numba cache, so vectorbt's first call compiles as on a fresh machine.
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="backtest-bench-numba-")
    os.environ.setdefault("TQDM_DISABLE", "1")
    warnings.filterwarnings("ignore")
    try:
        versions = f"vectorbt {version('vectorbt')}, backtesting.py {version('backtesting')}"
    except PackageNotFoundError:
        raise SystemExit("--compare needs vectorbt and backtesting.py: pip install -r requirements-dev.txt") from None
    print(f"sma_cross({FAST}, {SLOW}); {versions}; AlphaLoop and vectorbt best of {args.repeats}")

    walk = synthetic_panel(args.bars, 1, daily_vol=0.002)
    first_call = vectorbt_walk(walk, 1_000_000.0)
    outcomes = best_of(
        args.repeats,
        {
            "AlphaLoop": lambda: run_alphaloop(walk, 1_000_000.0, allow_short=True),
            "vectorbt (warm)": lambda: vectorbt_walk(walk, 1_000_000.0),
        },
    )
    outcomes["vectorbt first call"] = first_call
    outcomes["backtesting.py"] = backtesting_py(walk, 1_000_000.0, allow_short=True, n_symbols=1)
    report(
        f"walk: 1 symbol x {args.bars:,} bars, long/short, all-in, no commission, $1,000,000",
        outcomes,
        {
            "vectorbt (warm)": (
                "; vectorbt reverses in one order and rounds cash within 1e-9 of zero to zero, so its cash "
                "drifts by fractions of a cent and an all-in size now and then comes out one share lower"
            )
        },
    )

    universe = synthetic_panel(args.symbol_bars, args.symbols, daily_vol=0.015)
    first_call = vectorbt_portfolio(universe, 10_000_000.0)
    bt_symbols = min(args.bt_symbols, args.symbols)
    outcomes = best_of(
        args.repeats,
        {
            "AlphaLoop": lambda: run_alphaloop(universe, 10_000_000.0, allow_short=False),
            "vectorbt (warm)": lambda: vectorbt_portfolio(universe, 10_000_000.0),
        },
    )
    outcomes["vectorbt first call"] = first_call
    outcomes[f"backtesting.py ({bt_symbols} runs)"] = backtesting_py(
        universe, 10_000_000.0, allow_short=False, n_symbols=bt_symbols
    )
    report(
        f"portfolio: {args.symbols} symbols x {args.symbol_bars:,} bars in one $10,000,000 account, long only, "
        f"1/{args.symbols} of equity per entry, no commission",
        outcomes,
        {
            f"backtesting.py ({bt_symbols} runs)": (
                f"; one account per symbol (${10_000_000 / args.symbols:,.0f} each), so shares and final equity "
                "differ"
            )
        },
        dates_only=frozenset({f"backtesting.py ({bt_symbols} runs)"}),
    )
    if bt_symbols < args.symbols:
        print(f"  (backtesting.py ran {bt_symbols} of the {args.symbols} symbols)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bars", type=int, default=1_000_000, help="bars for the one-symbol run")
    parser.add_argument("--symbols", type=int, default=500, help="symbols for the universe run")
    parser.add_argument("--symbol-bars", type=int, default=2_520, help="bars per symbol for the universe run")
    parser.add_argument("--compare", action="store_true", help="time vectorbt and backtesting.py on the same runs")
    parser.add_argument("--repeats", type=int, default=5, help="--compare: runs of AlphaLoop and vectorbt, best kept")
    parser.add_argument("--bt-symbols", type=int, default=500, help="--compare: symbols backtesting.py runs")
    parser.add_argument("--spread", type=float, default=0.0, help="bid-ask spread, a fraction of the price")
    parser.add_argument(
        "--max-volume-fraction", type=float, default=None, help="volume cap, a fraction of each bar's volume"
    )
    args = parser.parse_args()
    if args.compare:
        compare(args)
        return
    costs = {"spread": args.spread, "max_volume_fraction": args.max_volume_fraction}
    bench("one symbol", synthetic_panel(args.bars, 1, daily_vol=0.002), capital=1_000_000.0, commission=0.0, **costs)
    # Enough capital that 1/500 of it buys whole shares of a ~$100 stock.
    bench(
        "universe",
        synthetic_panel(args.symbol_bars, args.symbols, daily_vol=0.015),
        capital=10_000_000.0,
        commission=0.002,
        **costs,
    )


if __name__ == "__main__":
    main()
