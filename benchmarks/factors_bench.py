"""Time the factor library against TA-Lib computing the same outputs, in the same run.

Contenders on one seeded 500 symbols x 2,520 bars panel, run interleaved
(one of each per round, ``--repeat`` rounds) so machine load hits them alike:

- ``library``: the library's 15 technical outputs (every factor but the
  fundamental ones), as date x symbol frames;
- ``floor``: TA-Lib producing the same 15 frames: 13 TA-Lib calls per symbol
  (ROC x4, MACD, SMA x3, RSI, BBANDS, OBV, SUM x2) plus the few whole-panel
  numpy operations that prepare their inputs and turn their results into the
  library's units (``calls`` times the inputs and the calls alone);
- ``whole``: every output of every factor (fundamentals included, fed from a
  seeded as-of panel) plus the default composite score.

Before timing, the floor's outputs are checked against the library's (the
largest difference is printed). Prints min and median per contender, in wall
time and in CPU time of this process (steadier when other work shares the
cores), and the ratios library/floor, library/calls and whole/floor (of the
minima, and the median of the per-round ratios). Nothing asserts a time.

    python benchmarks/factors_bench.py [--symbols 500] [--bars 2520] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import pandas as pd
import talib

from factors.base import FactorValues, all_factors
from factors.panel import Panel
from factors.scoring import composite_scores

TECHNICAL_OUTPUTS: tuple[str, ...] = (
    "roc_20",
    "roc_60",
    "roc_120",
    "mom_12_1",
    "macd",
    "macd_signal",
    "macd_hist",
    "ma_trend",
    "rsi_14",
    "bb_pctb",
    "zscore_20",
    "obv",
    "volume_ratio_20",
    "vwap_dist_20",
    "amihud_20",
)


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


def library_technical(panel: Panel) -> dict[str, pd.DataFrame]:
    """The library's technical outputs by name, computed in one sweep that shares
    intermediates."""
    values = FactorValues(panel, TECHNICAL_OUTPUTS)
    return {name: values[name] for name in TECHNICAL_OUTPUTS}


def _talib_inputs(panel: Panel) -> dict[str, np.ndarray]:
    """Symbol-major views of the panel (a frame's columns are contiguous, so TA-Lib
    reads each symbol without a copy) and the two derived series TA-Lib sums."""
    close, high, low, volume = (
        panel[key].to_numpy(dtype="float64").T for key in ("close", "high", "low", "volume")
    )
    illiquidity = np.full_like(close, np.nan)
    illiquidity[:, 1:] = np.abs(close[:, 1:] / close[:, :-1] - 1.0) / (close * volume)[:, 1:]
    traded = (high + low + close) / 3.0 * volume
    return {"close": close, "volume": volume, "traded": traded, "illiquidity": illiquidity}


def talib_floor(panel: Panel) -> dict[str, pd.DataFrame]:
    """The same outputs from TA-Lib, one symbol at a time, as date x symbol frames.

    Results go straight into symbol-major arrays that become the frames without
    a copy. A few numpy operations finish the library's units, on blocks of
    symbols small enough to stay in the CPU cache (as the library does).
    """
    inputs = _talib_inputs(panel)
    close, volume = inputs["close"], inputs["volume"]
    n_symbols, n_bars = close.shape
    out = {name: np.empty(close.shape) for name in TECHNICAL_OUTPUTS}
    rows_per_block = max(1, (1 << 20) // (8 * n_bars))
    scratch = {
        name: np.empty((rows_per_block, n_bars))
        for name in ("bb_upper", "bb_middle", "volume_sma", "traded_sum", "volume_sum")
    }
    for first in range(0, n_symbols, rows_per_block):
        rows = slice(first, min(first + rows_per_block, n_symbols))
        block = {name: values[rows] for name, values in out.items()}
        extra = {name: values[: rows.stop - rows.start] for name, values in scratch.items()}
        for j in range(rows.stop - rows.start):
            c, v = close[rows][j], volume[rows][j]
            block["roc_20"][j] = talib.ROC(c, 20)
            block["roc_60"][j] = talib.ROC(c, 60)
            block["roc_120"][j] = talib.ROC(c, 120)
            block["mom_12_1"][j] = talib.ROC(c, 231)
            block["macd"][j], block["macd_signal"][j], block["macd_hist"][j] = talib.MACD(
                c, 12, 26, 9
            )
            block["ma_trend"][j] = talib.SMA(c, 200)
            block["rsi_14"][j] = talib.RSI(c, 14)
            extra["bb_upper"][j], extra["bb_middle"][j], _ = talib.BBANDS(c, 20, 2.0, 2.0, 0)
            block["obv"][j] = talib.OBV(c, v)
            extra["volume_sma"][j] = talib.SMA(v, 20)
            extra["traded_sum"][j] = talib.SUM(inputs["traded"][rows][j], 20)
            extra["volume_sum"][j] = talib.SUM(v, 20)
            block["amihud_20"][j] = talib.SMA(inputs["illiquidity"][rows][j], 20)
        c, v = close[rows], volume[rows]
        for name in ("roc_20", "roc_60", "roc_120"):
            block[name] /= 100.0
        mom = block["mom_12_1"]
        mom[:, 21:] = mom[:, :-21] / 100.0
        mom[:, :21] = np.nan
        np.divide(c, block["ma_trend"], out=block["ma_trend"])
        block["ma_trend"] -= 1.0
        width = np.subtract(extra["bb_upper"], extra["bb_middle"], out=extra["bb_upper"])
        zscore = np.subtract(c, extra["bb_middle"], out=block["zscore_20"])
        zscore *= 2.0
        zscore /= width
        np.divide(zscore, 4.0, out=block["bb_pctb"])
        block["bb_pctb"] += 0.5
        ratio = block["volume_ratio_20"]
        ratio[:, 0] = np.nan
        np.divide(v[:, 1:], extra["volume_sma"][:, :-1], out=ratio[:, 1:])
        vwap = np.divide(extra["traded_sum"], extra["volume_sum"], out=extra["traded_sum"])
        np.divide(c, vwap, out=block["vwap_dist_20"])
        block["vwap_dist_20"] -= 1.0
        block["amihud_20"] *= 1e6
    index, columns = panel["close"].index, panel["close"].columns
    return {
        name: pd.DataFrame(out[name].T, index=index, columns=columns, copy=False)
        for name in TECHNICAL_OUTPUTS
    }


def talib_calls(panel: Panel) -> None:
    """Only the floor's inputs and its 13 TA-Lib calls per symbol, results dropped."""
    inputs = _talib_inputs(panel)
    for c, v, traded, illiquidity in zip(*inputs.values(), strict=True):
        talib.ROC(c, 20), talib.ROC(c, 60), talib.ROC(c, 120), talib.ROC(c, 231)
        talib.MACD(c, 12, 26, 9), talib.SMA(c, 200), talib.RSI(c, 14)
        talib.BBANDS(c, 20, 2.0, 2.0, 0), talib.OBV(c, v), talib.SMA(v, 20)
        talib.SUM(traded, 20), talib.SUM(v, 20), talib.SMA(illiquidity, 20)


def whole_library(panel: Panel) -> int:
    """Every output of every factor, then the composite score on them; returns the frame count."""
    names = [name for factor in all_factors() for name in factor.outputs]
    values = FactorValues(panel, names)
    outputs = [values[name] for name in names]
    composite_scores(panel, factor_values=values)
    return len(outputs) + 1


def largest_difference(library: dict[str, pd.DataFrame], floor: dict[str, pd.DataFrame]) -> str:
    """The output where library and floor differ most, relative to the output's scale."""
    worst, worst_name = 0.0, ""
    for name in TECHNICAL_OUTPUTS:
        ours, theirs = library[name].to_numpy(), floor[name].to_numpy()
        if not np.array_equal(np.isnan(ours), np.isnan(theirs)):
            raise SystemExit(f"{name}: library and TA-Lib disagree on which values are defined")
        defined = ~np.isnan(ours)
        scale = max(1.0, float(np.abs(theirs[defined]).max()))
        difference = float(np.abs(ours[defined] - theirs[defined]).max()) / scale
        if difference >= worst:
            worst, worst_name = difference, name
    return f"{worst:.1e} ({worst_name}, relative to max(1, largest value))"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=500)
    parser.add_argument("--bars", type=int, default=2520)
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds")
    args = parser.parse_args()
    panel = random_panel(args.symbols, args.bars)
    agreement = largest_difference(library_technical(panel), talib_floor(panel))
    contenders: dict[str, Callable[[Panel], object]] = {
        "library": library_technical,
        "floor": talib_floor,
        "calls": talib_calls,
        "whole": whole_library,
    }
    clocks = {"wall": time.perf_counter, "cpu": time.process_time}
    timings = {(name, clock): [] for name in contenders for clock in clocks}
    for _ in range(args.repeat):
        for name, run in contenders.items():
            started = {clock: read() for clock, read in clocks.items()}
            run(panel)
            for clock, read in clocks.items():
                timings[name, clock].append(read() - started[clock])
    bars = args.symbols * args.bars
    print(f"panel: {args.symbols} symbols x {args.bars} bars, {args.repeat} interleaved rounds")
    print(f"library vs TA-Lib: {len(TECHNICAL_OUTPUTS)} outputs agree to {agreement}")
    labels = {
        "library": f"library, {len(TECHNICAL_OUTPUTS)} technical outputs",
        "floor": "TA-Lib floor, same outputs",
        "calls": "  of which the 13 TA-Lib calls per symbol",
        "whole": f"whole library ({whole_library(panel)} frames) + composite",
    }
    print(f"{'seconds':44s} {'wall min':>9s} {'median':>8s} {'CPU min':>9s} {'median':>8s}")
    for name, label in labels.items():
        wall, cpu = timings[name, "wall"], timings[name, "cpu"]
        print(
            f"{label:44s} {min(wall):9.3f} {statistics.median(wall):8.3f}"
            f" {min(cpu):9.3f} {statistics.median(cpu):8.3f}  ({bars / min(wall):,.0f} bars/s)"
        )
    for name, versus in (("library", "floor"), ("library", "calls"), ("whole", "floor")):
        parts = []
        for clock in clocks:
            ours, theirs = timings[name, clock], timings[versus, clock]
            per_round = [a / b for a, b in zip(ours, theirs, strict=True)]
            parts.append(
                f"{clock} {min(ours) / min(theirs):.2f}x of the minima, median per round"
                f" {statistics.median(per_round):.2f}x ({min(per_round):.2f}-{max(per_round):.2f})"
            )
        print(f"ratio {name}/{versus}: " + "; ".join(parts))


if __name__ == "__main__":
    main()
