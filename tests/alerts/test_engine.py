"""The pure AlertEngine: every condition at its boundary, vectorized over many alerts."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from alerts.engine import AlertBook, AlertEngine, AlertRule, MarketView, evaluate, rule_matches
from alerts.indicators import IndicatorStates


def states(symbol: str = "AAPL", **values: float) -> IndicatorStates:
    return IndicatorStates.from_rows({symbol: values}, (symbol,))


def view(price: float, *, previous_close=np.nan, rsi_prev=np.nan, rsi_now=np.nan, macd_prev=np.nan, macd_now=np.nan):
    return MarketView(
        np.array([price]), np.array([previous_close]), np.array([rsi_prev]), np.array([rsi_now]),
        np.array([macd_prev]), np.array([macd_now]),
    )


def fires(condition: str, threshold, market: MarketView, direction: str = "") -> bool:
    book = AlertBook.from_rules([AlertRule(1, "AAPL", condition, threshold, direction)])
    return bool(evaluate(book, market)[0])


def test_price_above_fires_exactly_at_the_threshold_and_not_a_cent_below():
    assert fires("price_above", Decimal("190.10"), view(190.10))
    assert not fires("price_above", Decimal("190.10"), view(190.09))
    assert fires("price_above", Decimal("190.10"), view(190.11))


def test_price_below_fires_exactly_at_the_threshold_and_not_a_cent_above():
    assert fires("price_below", Decimal("95.30"), view(95.30))
    assert not fires("price_below", Decimal("95.30"), view(95.31))
    assert fires("price_below", Decimal("95.30"), view(95.29))


def test_pct_change_up_is_measured_from_the_previous_close():
    # 200 -> 210 is exactly +5 %; 209.99 is 4.995 %.
    assert fires("pct_change", Decimal("5"), view(210.00, previous_close=200.0), "up")
    assert not fires("pct_change", Decimal("5"), view(209.99, previous_close=200.0), "up")
    assert not fires("pct_change", Decimal("5"), view(190.00, previous_close=200.0), "up")


def test_pct_change_down_fires_on_the_fall_only():
    assert fires("pct_change", Decimal("5"), view(190.00, previous_close=200.0), "down")
    assert not fires("pct_change", Decimal("5"), view(190.01, previous_close=200.0), "down")
    assert not fires("pct_change", Decimal("5"), view(210.00, previous_close=200.0), "down")


def test_pct_change_without_direction_fires_either_way():
    assert fires("pct_change", Decimal("2.5"), view(102.50, previous_close=100.0))
    assert fires("pct_change", Decimal("2.5"), view(97.50, previous_close=100.0))
    assert not fires("pct_change", Decimal("2.5"), view(102.49, previous_close=100.0))
    assert not fires("pct_change", Decimal("2.5"), view(97.51, previous_close=100.0))


def test_pct_change_never_fires_without_a_previous_close():
    assert not fires("pct_change", Decimal("1"), view(500.0), "up")


def test_rsi_cross_up_needs_below_before_and_at_or_above_now():
    assert fires("rsi_cross", Decimal("70"), view(1, rsi_prev=69.5, rsi_now=70.0), "up")
    assert not fires("rsi_cross", Decimal("70"), view(1, rsi_prev=69.5, rsi_now=69.99), "up")
    # Already above at the last close: no crossing today.
    assert not fires("rsi_cross", Decimal("70"), view(1, rsi_prev=70.0, rsi_now=75.0), "up")
    # Falling through is not an up-cross.
    assert not fires("rsi_cross", Decimal("70"), view(1, rsi_prev=71.0, rsi_now=69.0), "up")


def test_rsi_cross_down_mirrors_up():
    assert fires("rsi_cross", Decimal("30"), view(1, rsi_prev=30.5, rsi_now=30.0), "down")
    assert not fires("rsi_cross", Decimal("30"), view(1, rsi_prev=30.5, rsi_now=30.01), "down")
    assert not fires("rsi_cross", Decimal("30"), view(1, rsi_prev=29.0, rsi_now=25.0), "down")


def test_macd_cross_compares_the_line_with_its_signal():
    # macd_diff = MACD line - signal line
    assert fires("macd_cross", 0, view(1, macd_prev=-0.10, macd_now=0.0), "up")
    assert not fires("macd_cross", 0, view(1, macd_prev=-0.10, macd_now=-0.01), "up")
    assert fires("macd_cross", 0, view(1, macd_prev=0.10, macd_now=0.0), "down")
    assert not fires("macd_cross", 0, view(1, macd_prev=0.10, macd_now=0.01), "down")
    assert not fires("macd_cross", 0, view(1, macd_prev=0.05, macd_now=0.20), "up")


def test_indicator_crosses_never_fire_without_history():
    assert not fires("rsi_cross", Decimal("50"), view(100.0), "up")
    assert not fires("macd_cross", 0, view(100.0), "down")


def test_a_symbol_without_a_price_fires_nothing():
    engine = AlertEngine([AlertRule(1, "AAPL", "price_above", Decimal("1"))])
    assert engine.fired({}, states()) == []


def test_one_pass_evaluates_many_alerts_over_many_symbols():
    rules = [
        AlertRule(1, "AAPL", "price_above", Decimal("190")),
        AlertRule(2, "AAPL", "price_above", Decimal("191")),
        AlertRule(3, "MSFT", "price_below", Decimal("400")),
        AlertRule(4, "MSFT", "pct_change", Decimal("1"), "down"),
        AlertRule(5, "TSLA", "price_above", Decimal("1")),  # no price for TSLA in this batch
        AlertRule(6, "AAPL", "pct_change", Decimal("10"), "up"),
    ]
    engine = AlertEngine(rules)
    daily = IndicatorStates.from_rows({"AAPL": {"last_close": 180.0}, "MSFT": {"last_close": 405.0}}, engine.symbols)
    fired = engine.fired({"AAPL": 190.5, "MSFT": 399.0}, daily)
    assert [f.alert_id for f in fired] == [1, 3, 4]
    assert fired[2].evidence["previous_close"] == 405.0 and fired[2].evidence["rsi_now"] is None


def test_the_book_knows_which_symbols_need_indicator_history():
    engine = AlertEngine([
        AlertRule(1, "AAPL", "price_above", Decimal("1")),
        AlertRule(2, "MSFT", "rsi_cross", Decimal("70"), "up"),
        AlertRule(3, "TSLA", "macd_cross", Decimal("0"), "down"),
    ])
    assert engine.needs_indicators() == {"MSFT", "TSLA"}


prices = st.decimals(min_value=Decimal("0.000001"), max_value=Decimal("999999"), places=6)


@given(price=prices, threshold=prices)
def test_price_levels_agree_with_exact_decimal_comparison(price, threshold):
    assert rule_matches(AlertRule(1, "X", "price_above", threshold), price) == (price >= threshold)
    assert rule_matches(AlertRule(1, "X", "price_below", threshold), price) == (price <= threshold)


@given(
    price=prices,
    previous=prices,
    threshold=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99.99"), places=2),
)
def test_pct_change_agrees_with_exact_decimal_arithmetic(price, previous, threshold):
    change = (price - previous) / previous * 100
    daily = states("X", last_close=float(previous))
    assert rule_matches(AlertRule(1, "X", "pct_change", threshold, "up"), price, daily) == (change >= threshold)
    assert rule_matches(AlertRule(1, "X", "pct_change", threshold, "down"), price, daily) == (change <= -threshold)


@given(
    previous=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2),
    threshold=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99.99"), places=2),
)
def test_pct_change_fires_exactly_on_the_boundary_price_and_not_one_tick_before(previous, threshold):
    # previous and threshold with 2 decimals put the exact boundary on a 6-decimal price.
    boundary = previous * (100 + threshold) / 100
    assert boundary == boundary.quantize(Decimal("0.000001"))
    daily = states("X", last_close=float(previous))
    rule = AlertRule(1, "X", "pct_change", threshold, "up")
    assert rule_matches(rule, boundary, daily)
    assert not rule_matches(rule, boundary - Decimal("0.000001"), daily)


# --- crosses without a direction: either way fires, and the firing says which way ---------------------

def zigzag(steps: int) -> list[float]:
    """100, 101, 100, 101, ...: RSI-14 hovers near 50 (just above after an up step, just below after a down step)."""
    closes = [100.0]
    for i in range(steps):
        closes.append(closes[-1] + (1.0 if i % 2 == 0 else -1.0))
    return closes


def daily(closes: list[float]) -> IndicatorStates:
    import pandas as pd

    from alerts.indicators import indicator_states

    return indicator_states(pd.DataFrame({"AAPL": closes}, index=pd.bdate_range("2026-01-02", periods=len(closes))))


def crossings(rule: AlertRule, closes: list[float], live: float) -> list[str | None]:
    """The ``crossed`` of each firing of ``rule`` when ``live`` ticks after the daily ``closes``."""
    return [firing.crossed for firing in AlertEngine([rule]).fired({"AAPL": live}, daily(closes))]


def test_rsi_cross_without_a_direction_fires_on_a_cross_either_way_and_says_which():
    import talib

    either = AlertRule(1, "AAPL", "rsi_cross", Decimal("50"))
    below, above = zigzag(60), zigzag(61)  # the last daily close ends a down step / an up step
    rsi = lambda closes: talib.RSI(np.array(closes), timeperiod=14)[-1]  # noqa: E731
    assert rsi(below) < 50 < rsi(below + [below[-1] + 2])  # 48.2 -> 55.1
    assert rsi(above) > 50 > rsi(above + [above[-1] - 2])  # 51.9 -> 45.0

    assert crossings(either, below, below[-1] + 2) == ["up"]
    assert crossings(either, above, above[-1] - 2) == ["down"]
    # No cross: RSI moves away from the level, or stays on its side of it.
    assert crossings(either, below, below[-1] - 2) == []
    assert crossings(either, above, above[-1] + 2) == []
    assert rsi(below + [below[-1] + 0.3]) < 50  # 48.2 -> 49.4: short of the level
    assert crossings(either, below, below[-1] + 0.3) == []
    # A set direction still fires one way only.
    assert crossings(AlertRule(2, "AAPL", "rsi_cross", Decimal("50"), "up"), above, above[-1] - 2) == []
    assert crossings(AlertRule(3, "AAPL", "rsi_cross", Decimal("50"), "down"), above, above[-1] - 2) == ["down"]


def test_macd_cross_without_a_direction_fires_on_a_cross_either_way_and_says_which():
    import talib

    either = AlertRule(1, "AAPL", "macd_cross", Decimal("0"))
    falling = [round(150 - 0.01 * i * i, 2) for i in range(80)]  # MACD under its signal line
    rising = [round(100 + 0.01 * i * i, 2) for i in range(80)]  # MACD over its signal line
    jump, drop = round(falling[-1] * 1.12, 2), round(rising[-1] * 0.92, 2)
    for closes, live in ((falling, jump), (rising, drop)):
        line, signal, _ = talib.MACD(np.array(closes + [live]), 12, 26, 9)
        assert np.sign(line[-2] - signal[-2]) == -np.sign(line[-1] - signal[-1])

    assert crossings(either, falling, jump) == ["up"]
    assert crossings(either, rising, drop) == ["down"]
    assert crossings(either, falling, falling[-1] * 0.99) == []
    assert crossings(either, rising, rising[-1] * 1.01) == []


def test_pct_change_either_way_says_which_way_it_moved():
    either = AlertRule(1, "AAPL", "pct_change", Decimal("2"))
    assert crossings(either, [100.0], 102.0) == ["up"]
    assert crossings(either, [100.0], 98.0) == ["down"]
    assert crossings(AlertRule(2, "AAPL", "price_above", Decimal("1")), [100.0], 102.0) == [None]


def test_a_mixed_book_reports_each_alerts_own_crossing():
    rules = [AlertRule(1, "AAPL", "rsi_cross", Decimal("50")), AlertRule(2, "AAPL", "rsi_cross", Decimal("55")),
             AlertRule(3, "AAPL", "pct_change", Decimal("1"))]
    below = zigzag(60)
    fired = AlertEngine(rules).fired({"AAPL": below[-1] + 2}, daily(below))
    assert [(f.alert_id, f.crossed) for f in fired] == [(1, "up"), (2, "up"), (3, "up")]
