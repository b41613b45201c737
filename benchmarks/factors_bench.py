"""Time the whole factor library on a 500 symbols x 2,520 bars panel.

Computes every output of every registered factor (fundamentals included, fed
from a seeded as-of panel) plus the default composite score, and prints the
total wall time and bars per second. Target: under 2 s on a 2-core machine.

    python benchmarks/factors_bench.py [--symbols 500] [--bars 2520] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd

from factors.base import all_factors
from factors.panel import Panel
from factors.scoring import composite_scores


def random_panel(n_symbols: int, n_bars: int, seed: int = 7) -> Panel:
    """A seeded random-walk OHLCV panel with quarterly as-of fundamentals."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range("2015-01-02", periods=n_bars, name="date")
    columns = pd.Index([f"S{i:03d}" for i in range(n_symbols)])
    shape = (n_bars, n_symbols)
    returns = rng.normal(0.0003, 0.02, shape)
    close = 50.0 * np.exp(np.cumsum(returns, axis=0))
    open_ = close * np.exp(rng.normal(0.0, 0.005, shape))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, 0.008, shape)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, 0.008, shape)))
    volume = np.round(rng.lognormal(np.log(2e6), 0.5, shape))

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=index, columns=columns)

    quarterly = rng.normal(0.0, 0.05, shape).cumsum(axis=0)[::63].repeat(63, axis=0)[:n_bars]
    return {
        "open": frame(open_),
        "high": frame(high),
        "low": frame(low),
        "close": frame(close),
        "volume": frame(volume),
        "eps": frame(2.5 + quarterly),
        "book_value_per_share": frame(20.0 + 4.0 * quarterly),
        "roe": frame(0.12 + quarterly / 20.0),
    }


def run_library(panel: Panel) -> int:
    """Compute every output of every factor and the composite; returns the output count."""
    outputs = 0
    for factor in all_factors():
        outputs += len(factor.compute_outputs(panel))
    composite_scores(panel)
    return outputs + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--bars", type=int, default=2520)
    parser.add_argument("--repeat", type=int, default=3, help="report the best of N runs")
    args = parser.parse_args()
    panel = random_panel(args.symbols, args.bars)
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        outputs = run_library(panel)
        timings.append(time.perf_counter() - started)
    best = min(timings)
    bars = args.symbols * args.bars
    print(f"panel: {args.symbols} symbols x {args.bars} bars, {outputs} frames computed")
    runs = ", ".join(f"{t:.3f}" for t in timings)
    print(f"total: {best:.3f} s (best of {args.repeat}; all runs {runs})")
    print(f"throughput: {bars / best:,.0f} bars/second")


if __name__ == "__main__":
    main()
