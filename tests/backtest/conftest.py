"""Fixtures for the backtest engine tests: hand-made panels and a scripted strategy."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import pytest

from backtest.engine import Data
from backtest.strategies.base import Strategy

Bar = tuple[float, float, float, float] | None  # (open, high, low, close); None = no bar


def build_panel(
    bars: Sequence[Bar] | Mapping[str, Sequence[Bar]], start: str = "2024-01-02"
) -> dict[str, pd.DataFrame]:
    """A panel from (open, high, low, close) rows: one symbol "X", or {symbol: rows}."""
    by_symbol = bars if isinstance(bars, Mapping) else {"X": bars}
    n = len(next(iter(by_symbol.values())))
    index = pd.bdate_range(start, periods=n, name="date")
    frames: dict[str, dict[str, list[float]]] = {name: {} for name in ("open", "high", "low", "close", "volume")}
    for symbol, rows in by_symbol.items():
        assert len(rows) == n, "every symbol needs one row per date"
        ohlc = np.array([row if row is not None else (np.nan,) * 4 for row in rows], dtype=float)
        for position, name in enumerate(("open", "high", "low", "close")):
            frames[name][symbol] = ohlc[:, position].tolist()
        frames["volume"][symbol] = np.where(np.isnan(ohlc[:, 3]), np.nan, 1_000_000.0).tolist()
    return {name: pd.DataFrame(columns, index=index, dtype="float64") for name, columns in frames.items()}


def random_panel(
    n_bars: int, symbols: Sequence[str], seed: int = 1, daily_vol: float = 0.02
) -> dict[str, pd.DataFrame]:
    """Random-walk OHLC bars with gaps at the open, for path-equivalence tests."""
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, daily_vol, size=(n_bars, len(symbols))), axis=0))
    previous = np.vstack([close[:1], close[:-1]])
    open_ = previous * np.exp(rng.normal(0.0, daily_vol / 2, size=close.shape))
    spread = np.abs(rng.normal(0.0, daily_vol / 2, size=close.shape))
    high = np.maximum(open_, close) * (1 + spread)
    low = np.minimum(open_, close) * (1 - spread)
    index = pd.bdate_range("2010-01-04", periods=n_bars, name="date")
    values = {"open": open_, "high": high, "low": low, "close": close, "volume": np.full(close.shape, 2e6)}
    return {name: pd.DataFrame(array, index=index, columns=list(symbols)) for name, array in values.items()}


def uneven_volume(panel: dict[str, pd.DataFrame], low: int, high: int, seed: int = 1) -> dict[str, pd.DataFrame]:
    """``panel`` with random whole volumes in [low, high) (NaN where a bar is missing), for the volume cap."""
    rng = np.random.default_rng(seed)
    volume = panel["volume"]
    values = rng.integers(low, high, size=volume.shape).astype(float)
    panel["volume"] = pd.DataFrame(np.where(np.isnan(panel["close"].to_numpy()), np.nan, values),
                                   index=volume.index, columns=volume.columns)
    return panel


Action = Callable[[Strategy, Data], object]


class Scripted(Strategy):
    """Runs ``plan[t](strategy, data)`` on bar t; records what each bar showed."""

    id = ""

    def __init__(self, plan: Mapping[int, Action] | None = None):
        super().__init__()
        self.plan = dict(plan or {})
        self.orders: list[object] = []
        self.equity_seen: list[float] = []

    def on_bar(self, data: Data) -> None:
        self.equity_seen.append(self.equity)
        action = self.plan.get(data.t)
        if action is not None:
            self.orders.append(action(self, data))


@pytest.fixture
def panel_of() -> Callable[..., dict[str, pd.DataFrame]]:
    return build_panel


@pytest.fixture
def random_panel_of() -> Callable[..., dict[str, pd.DataFrame]]:
    return random_panel


@pytest.fixture
def scripted() -> type[Scripted]:
    return Scripted


STORED_START, STORED_END = "2024-01-02", "2025-12-31"


def store_bars(symbols, start=STORED_START, end=STORED_END, seed=11) -> None:
    """Synthetic daily bars for ``symbols`` on NYSE sessions, through the import upsert."""
    from datetime import date
    from decimal import Decimal

    from marketdata import calendar
    from marketdata.services import bars_import
    from marketdata.synthetic import generate_universe

    first, last = date.fromisoformat(start), date.fromisoformat(end)
    index = calendar.sessions_index(first, last)
    for symbol, frame in generate_universe(list(symbols), first, last, seed=seed, sessions=index).items():
        rows = [{"date": ts.date(), "open": Decimal(str(r.open)), "high": Decimal(str(r.high)), "low": Decimal(str(r.low)),
                 "close": Decimal(str(r.close)), "adj_close": None, "volume": int(r.volume)}
                for ts, r in zip(frame.index, frame.itertuples(index=False))]
        bars_import(symbol=symbol, rows=rows, is_synthetic=True)


@pytest.fixture
def spy_aapl_msft_bars(db):
    """SPY, AAPL and MSFT from 2024-01-02 to 2025-12-31 (502 sessions), seed 11."""
    store_bars(["SPY", "AAPL", "MSFT"])


@pytest.fixture
def committing_api(api, django_capture_on_commit_callbacks):
    """The JWT client, with each POST's on-commit task dispatch run (as a real commit would)."""
    post = api.post

    def post_and_commit(*args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return post(*args, **kwargs)

    api.post = post_and_commit
    return api
