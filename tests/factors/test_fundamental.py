"""Fundamental factors and the as-of fundamentals panel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from factors.base import get_factor
from factors.fundamental import fundamentals_to_panel

SESSIONS = pd.bdate_range("2024-01-01", "2024-01-31")


def _records(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["symbol", "as_of", "eps", "book_value_per_share", "roe"])


def test_a_snapshot_is_visible_from_its_as_of_date_and_never_before() -> None:
    records = _records(
        [("AAA", "2024-01-10", 2.0, 10.0, 0.2), ("AAA", "2024-01-20", 3.0, 11.0, 0.27)]
    )
    eps = fundamentals_to_panel(records, SESSIONS, ["AAA"])["eps"]["AAA"]
    assert eps[:"2024-01-09"].isna().all()
    assert (eps["2024-01-10":"2024-01-19"] == 2.0).all()
    assert (eps["2024-01-22":] == 3.0).all()


def test_a_weekend_snapshot_counts_from_the_next_session() -> None:
    records = _records([("AAA", "2024-01-13", 2.0, 10.0, 0.2)])  # a Saturday
    eps = fundamentals_to_panel(records, SESSIONS, ["AAA"])["eps"]["AAA"]
    assert np.isnan(eps["2024-01-12"]) and eps["2024-01-15"] == 2.0


def test_symbols_are_forward_filled_independently() -> None:
    records = _records(
        [
            ("AAA", "2024-01-02", 1.0, 5.0, 0.2),
            ("BBB", "2024-01-15", 4.0, 8.0, 0.5),
            ("AAA", "2024-01-15", np.nan, 6.0, 0.2),
            ("AAA", "2024-01-15", 1.5, 6.5, 0.23),  # same day: the later row wins
        ]
    )
    panel = fundamentals_to_panel(records, SESSIONS, ["AAA", "BBB", "CCC"])
    assert panel["eps"]["AAA"]["2024-01-12"] == 1.0
    assert panel["eps"]["AAA"]["2024-01-16"] == 1.5
    assert panel["book_value_per_share"]["AAA"]["2024-01-31"] == 6.5
    assert panel["eps"]["BBB"]["2024-01-12":"2024-01-12"].isna().all()
    assert panel["eps"]["CCC"].isna().all()
    assert panel["roe"].index.equals(SESSIONS)


def test_ratios_from_price_and_fundamentals() -> None:
    close = pd.DataFrame({"AAA": [20.0, 20.0], "BBB": [30.0, 30.0]}, index=SESSIONS[:2])
    panel = {
        "close": close,
        "eps": pd.DataFrame({"AAA": [2.0, -1.0], "BBB": [0.0, np.nan]}, index=close.index),
        "book_value_per_share": pd.DataFrame(
            {"AAA": [10.0, 10.0], "BBB": [-5.0, 15.0]}, index=close.index
        ),
        "roe": pd.DataFrame({"AAA": [0.2, 0.1], "BBB": [0.3, 0.3]}, index=close.index),
    }
    pe = get_factor("pe").compute(panel)
    assert pe["AAA"].iloc[0] == 10.0
    assert np.isnan(pe["AAA"].iloc[1]) and pe["BBB"].isna().all()  # no P/E without profits
    assert get_factor("earnings_yield").compute(panel)["AAA"].tolist() == [0.1, -0.05]
    pb = get_factor("pb").compute(panel)
    assert (
        pb["AAA"].tolist() == [2.0, 2.0]
        and np.isnan(pb["BBB"].iloc[0])
        and pb["BBB"].iloc[1] == 2.0
    )
    assert get_factor("roe").compute(panel)["BBB"].tolist() == [0.3, 0.3]


def test_without_fundamentals_the_factors_are_undefined() -> None:
    close = pd.DataFrame({"AAA": [20.0, 21.0]}, index=SESSIONS[:2])
    for name in ("pe", "pb", "roe", "earnings_yield"):
        values = get_factor(name).compute({"close": close})
        assert values.isna().all().all() and values.shape == close.shape
